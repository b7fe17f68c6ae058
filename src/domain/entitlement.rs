//! The MPSV rules of access, as pure functions over facts read from the database:
//! which application a person may use for an organisation, and whether they may *submit*.
//!
//! - *poskytovatel*: an active poskytovatel consent for that organisation;
//! - *rodina*: an active rodina consent for that organisation, or an active poskytovatel
//!   consent when the organisation is an NNO in family support (MPSV rule 2);
//! - *submit*: the person is the organisation's statutory representative now, or holds a
//!   delegation from someone who still is (MPSV rules 4 and 6).

use super::client::Application;
use super::organisation::{Organisation, OrganisationKind};

/// A person's active consents for one organisation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Consents {
    pub poskytovatel: bool,
    pub rodina: bool,
}

/// May the person use `app` for an organisation of this kind with these consents?
pub fn entitled(app: Application, org: OrganisationKind, consents: Consents) -> bool {
    match app {
        Application::Poskytovatel => consents.poskytovatel,
        Application::Rodina => consents.rodina || (consents.poskytovatel && org.nno_family_support),
    }
}

/// Every application the person may use for the organisation, in a fixed order.
pub fn apps(org: OrganisationKind, consents: Consents) -> Vec<Application> {
    Application::ALL
        .iter()
        .copied()
        .filter(|a| entitled(*a, org, consents))
        .collect()
}

/// A period of a role, in Unix seconds: from `from` (inclusive) until `until` (exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    pub from: i64,
    pub until: Option<i64>,
}

impl Period {
    pub fn active_at(&self, t: i64) -> bool {
        self.from <= t && self.until.is_none_or(|u| t < u)
    }
}

/// Why a person may submit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitSource {
    Statutory,
    Delegation,
}

impl SubmitSource {
    pub fn as_str(self) -> &'static str {
        match self {
            SubmitSource::Statutory => "statutory",
            SubmitSource::Delegation => "delegation",
        }
    }
}

/// A delegation of submit as the rule needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DelegationFacts {
    pub revoked: bool,
    /// Is the delegator a statutory representative of the same organisation at the time asked?
    pub delegator_statutory_now: bool,
}

impl DelegationFacts {
    /// A delegation is in force only while not revoked and while its delegator is still a
    /// statutory representative.
    pub fn in_force(&self) -> bool {
        !self.revoked && self.delegator_statutory_now
    }
}

/// The submit permission of a person for one organisation, and its source.
pub fn submit_permission(
    statutory_now: bool,
    delegations: &[DelegationFacts],
) -> Option<SubmitSource> {
    if statutory_now {
        Some(SubmitSource::Statutory)
    } else if delegations.iter().any(DelegationFacts::in_force) {
        Some(SubmitSource::Delegation)
    } else {
        None
    }
}

/// What the database knows, at the moment of asking, about a person and one organisation
/// they hold a consent for: the facts every rule above needs.
#[derive(Debug, Clone)]
pub struct Affiliation {
    pub organisation: Organisation,
    pub consents: Consents,
    /// A statutory representative of the organisation now.
    pub statutory: bool,
    /// Delegations of submit the person holds for the organisation (not revoked).
    pub delegations: Vec<DelegationFacts>,
}

impl Affiliation {
    pub fn entitled(&self, app: Application) -> bool {
        entitled(app, self.organisation.kind, self.consents)
    }

    pub fn apps(&self) -> Vec<Application> {
        apps(self.organisation.kind, self.consents)
    }

    pub fn submit(&self) -> Option<SubmitSource> {
        submit_permission(self.statutory, &self.delegations)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NNO: OrganisationKind = OrganisationKind {
        social_service_provider: true,
        nno_family_support: true,
    };
    const PROVIDER: OrganisationKind = OrganisationKind {
        social_service_provider: true,
        nno_family_support: false,
    };
    const P: Consents = Consents {
        poskytovatel: true,
        rodina: false,
    };
    const R: Consents = Consents {
        poskytovatel: false,
        rodina: true,
    };

    #[test]
    fn a_poskytovatel_user_of_an_nno_in_family_support_may_use_rodina() {
        assert!(entitled(Application::Rodina, NNO, P));
        assert_eq!(
            apps(NNO, P),
            vec![Application::Poskytovatel, Application::Rodina]
        );
    }

    #[test]
    fn a_poskytovatel_user_of_another_provider_may_not_use_rodina() {
        assert!(!entitled(Application::Rodina, PROVIDER, P));
        assert_eq!(apps(PROVIDER, P), vec![Application::Poskytovatel]);
    }

    #[test]
    fn a_rodina_only_user_may_not_use_poskytovatel() {
        assert!(!entitled(Application::Poskytovatel, NNO, R));
        assert!(entitled(Application::Rodina, PROVIDER, R));
    }

    #[test]
    fn no_consent_no_application() {
        assert!(apps(NNO, Consents::default()).is_empty());
    }

    #[test]
    fn a_period_includes_its_start_and_excludes_its_end() {
        let p = Period {
            from: 10,
            until: Some(20),
        };
        assert!(!p.active_at(9) && p.active_at(10) && p.active_at(19) && !p.active_at(20));
        assert!(Period {
            from: 10,
            until: None
        }
        .active_at(i64::MAX));
    }

    #[test]
    fn submit_belongs_to_statutory_representatives_and_their_delegates() {
        assert_eq!(submit_permission(true, &[]), Some(SubmitSource::Statutory));
        assert_eq!(submit_permission(false, &[]), None);
        let live = DelegationFacts {
            revoked: false,
            delegator_statutory_now: true,
        };
        assert_eq!(
            submit_permission(false, &[live]),
            Some(SubmitSource::Delegation)
        );
    }

    #[test]
    fn a_delegation_lapses_when_its_delegator_stops_being_statutory_or_revokes_it() {
        let lapsed = DelegationFacts {
            revoked: false,
            delegator_statutory_now: false,
        };
        let revoked = DelegationFacts {
            revoked: true,
            delegator_statutory_now: true,
        };
        assert_eq!(submit_permission(false, &[lapsed, revoked]), None);
    }
}
