//! Persons, consents, memberships and credentials letters, and the affiliations read from them:
//! the MPSV domain's facts (docs/domain.md; statutory roles in `statutory.rs`, delegations in
//! `delegations.rs`). The rules themselves are in `domain::entitlement`; this module only reads
//! and writes the facts they take.

use sqlx::FromRow;

use super::organisations::OrganisationRow;
use super::{conflict_on_unique, Result, Storage, StorageError, Tx};
use crate::domain::client::Application;
use crate::domain::entitlement::{Affiliation, Consents, DelegationFacts};
use crate::domain::id::{OrganisationId, Subject};
use crate::domain::mpsv_id::MpsvClientId;
use crate::domain::person::{ConsentForm, Person};
use crate::domain::text::search_key;
use crate::secrets::now;

#[derive(FromRow)]
struct PersonRow {
    sub: Subject,
    given_name: String,
    family_name: String,
    email: Option<String>,
    locale: String,
    mpsv_client_id: Option<String>,
}

impl PersonRow {
    fn into_person(self) -> Result<Person> {
        Ok(Person {
            sub: self.sub,
            given_name: self.given_name,
            family_name: self.family_name,
            email: self.email,
            locale: self.locale,
            mpsv_client_id: self
                .mpsv_client_id
                .map(|id| MpsvClientId::parse(&id))
                .transpose()
                .map_err(|e| StorageError::Corrupt(e.0))?,
        })
    }
}

/// A consent as stored.
#[derive(Debug, Clone, FromRow)]
pub struct ConsentRecord {
    pub id: String,
    pub person_sub: Subject,
    pub organisation_id: OrganisationId,
    pub form: String,
    pub signed_on: String,
    pub received_on: String,
    pub reference: String,
    pub recorded_by: String,
    pub recorded_at: i64,
    pub withdrawn_at: Option<i64>,
    pub withdrawn_by: Option<String>,
}

/// A member of an organisation as an organisation page lists them.
#[derive(Debug, Clone, FromRow)]
pub struct Member {
    pub sub: Subject,
    pub given_name: String,
    pub family_name: String,
    pub username: Option<String>,
}

/// A person as a search lists them, with their account if any.
#[derive(Debug, Clone, FromRow)]
pub struct PersonSummary {
    pub sub: Subject,
    pub given_name: String,
    pub family_name: String,
    pub email: Option<String>,
    pub mpsv_client_id: Option<String>,
    pub username: Option<String>,
    pub status: Option<String>,
    pub role: Option<String>,
}

/// A credentials letter issued (the PDF itself is not kept).
pub struct LetterRecord<'a> {
    pub reference: &'a str,
    pub person_sub: &'a Subject,
    pub organisation_id: &'a OrganisationId,
    pub issued_by: &'a str,
    pub password_expires_at: i64,
}

macro_rules! person_columns {
    () => {
        "sub, given_name, family_name, email, locale, mpsv_client_id"
    };
}

/// Makes the person a current member of the organisation (again, if they had left).
pub(super) async fn join_organisation(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    person_sub: &Subject,
    organisation_id: &OrganisationId,
    from_at: i64,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO memberships (person_sub, organisation_id, from_at, until_at) \
         VALUES ($1,$2,$3,NULL) \
         ON CONFLICT (person_sub, organisation_id) DO UPDATE SET until_at = NULL",
    )
    .bind(person_sub)
    .bind(organisation_id)
    .bind(from_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

impl Storage {
    pub async fn insert_person_in(&self, tx: &mut Tx, p: &Person, created_by: &str) -> Result<()> {
        sqlx::query(
            "INSERT INTO persons (sub, given_name, family_name, search_key, email, \
             email_verified, locale, mpsv_client_id, created_by, created_at) \
             VALUES ($1,$2,$3,$4,$5,0,$6,NULL,$7,$8)",
        )
        .bind(p.sub.clone())
        .bind(p.given_name.clone())
        .bind(p.family_name.clone())
        .bind(search_key(&p.name()))
        .bind(p.email.clone())
        .bind(p.locale.clone())
        .bind(created_by)
        .bind(now())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// [`Storage::insert_person_in`] in a transaction of its own.
    pub async fn insert_person(&self, p: &Person, created_by: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.insert_person_in(&mut tx, p, created_by).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn person(&self, sub: &Subject) -> Result<Option<Person>> {
        let row: Option<PersonRow> = sqlx::query_as(concat!(
            "SELECT ",
            person_columns!(),
            " FROM persons WHERE sub = $1"
        ))
        .bind(sub)
        .fetch_optional(self.pool())
        .await?;
        row.map(PersonRow::into_person).transpose()
    }

    pub async fn person_by_mpsv_id(&self, id: &MpsvClientId) -> Result<Option<Person>> {
        let row: Option<PersonRow> = sqlx::query_as(concat!(
            "SELECT ",
            person_columns!(),
            " FROM persons WHERE mpsv_client_id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(PersonRow::into_person).transpose()
    }

    /// Records a consent and, in the same transaction, makes the person a member of the
    /// organisation and assigns their MPSV client identifier if they have none yet (from a
    /// sequence that only grows, so an identifier is never reused). A second active consent
    /// of the same form for the same organisation is a conflict.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_consent_in(
        &self,
        tx: &mut Tx,
        id: &str,
        person_sub: &Subject,
        organisation_id: &OrganisationId,
        form: Application,
        c: &ConsentForm,
        recorded_by: &str,
    ) -> Result<MpsvClientId> {
        let t = now();
        let r = sqlx::query(
            "INSERT INTO consents (id, person_sub, organisation_id, form, signed_on, received_on, \
             reference, recorded_by, recorded_at) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9)",
        )
        .bind(id)
        .bind(person_sub)
        .bind(organisation_id)
        .bind(form.as_str())
        .bind(c.signed_on.to_string())
        .bind(c.received_on.to_string())
        .bind(c.reference.clone())
        .bind(recorded_by)
        .bind(t)
        .execute(&mut **tx)
        .await;
        conflict_on_unique(r, "an active consent of this form for this organisation")?;
        join_organisation(tx, person_sub, organisation_id, t).await?;
        let existing: Option<(Option<String>,)> =
            sqlx::query_as("SELECT mpsv_client_id FROM persons WHERE sub = $1")
                .bind(person_sub)
                .fetch_optional(&mut **tx)
                .await?;
        let id = match existing {
            None => return Err(StorageError::Corrupt(format!("no person {person_sub}"))),
            Some((Some(id),)) => {
                MpsvClientId::parse(&id).map_err(|e| StorageError::Corrupt(e.0))?
            }
            Some((None,)) => {
                let (n,): (i64,) = sqlx::query_as(
                    "UPDATE mpsv_id_sequence SET next = next + 1 WHERE id = 1 RETURNING next - 1",
                )
                .fetch_one(&mut **tx)
                .await?;
                let id = MpsvClientId::from_sequence(n).map_err(|e| StorageError::Corrupt(e.0))?;
                sqlx::query("UPDATE persons SET mpsv_client_id = $1 WHERE sub = $2")
                    .bind(id.as_str())
                    .bind(person_sub)
                    .execute(&mut **tx)
                    .await?;
                id
            }
        };
        Ok(id)
    }

    /// Withdraws an active consent; false when there is none with this id.
    pub async fn withdraw_consent_in(
        &self,
        tx: &mut Tx,
        id: &str,
        by: &str,
        reason: &str,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE consents SET withdrawn_at = $1, withdrawn_by = $2, withdraw_reason = $3 \
             WHERE id = $4 AND withdrawn_at IS NULL",
        )
        .bind(now())
        .bind(by)
        .bind(reason)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    pub async fn consent(&self, id: &str) -> Result<Option<ConsentRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, person_sub, organisation_id, form, signed_on, received_on, reference, \
             recorded_by, recorded_at, withdrawn_at, withdrawn_by FROM consents WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Every consent of a person, the newest first.
    pub async fn consents_of(&self, person_sub: &Subject) -> Result<Vec<ConsentRecord>> {
        Ok(sqlx::query_as(
            "SELECT id, person_sub, organisation_id, form, signed_on, received_on, reference, \
             recorded_by, recorded_at, withdrawn_at, withdrawn_by FROM consents \
             WHERE person_sub = $1 ORDER BY recorded_at DESC, id",
        )
        .bind(person_sub)
        .fetch_all(self.pool())
        .await?)
    }

    /// Every consent given for an organisation, with the person's name, the newest first.
    pub async fn consents_for_organisation(
        &self,
        organisation_id: &OrganisationId,
    ) -> Result<Vec<(ConsentRecord, String)>> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            c: ConsentRecord,
            person_name: String,
        }
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT c.id, c.person_sub, c.organisation_id, c.form, c.signed_on, c.received_on, \
             c.reference, c.recorded_by, c.recorded_at, c.withdrawn_at, c.withdrawn_by, \
             p.given_name || ' ' || p.family_name AS person_name \
             FROM consents c JOIN persons p ON p.sub = c.person_sub \
             WHERE c.organisation_id = $1 ORDER BY c.recorded_at DESC, c.id",
        )
        .bind(organisation_id)
        .fetch_all(self.pool())
        .await?;
        Ok(rows.into_iter().map(|r| (r.c, r.person_name)).collect())
    }

    /// Does the person hold any active consent (the condition for having an account)?
    pub async fn has_active_consent(&self, person_sub: &Subject) -> Result<bool> {
        let n: (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM consents WHERE person_sub = $1 AND withdrawn_at IS NULL",
        )
        .bind(person_sub)
        .fetch_one(self.pool())
        .await?;
        Ok(n.0 > 0)
    }

    /// The facts of every organisation the person holds an active consent for, as of `at`.
    pub async fn affiliations(&self, person_sub: &Subject, at: i64) -> Result<Vec<Affiliation>> {
        self.affiliations_where(person_sub, None, at).await
    }

    /// The facts for one organisation; `None` when the person holds no active consent there.
    pub async fn affiliation(
        &self,
        person_sub: &Subject,
        organisation_id: &OrganisationId,
        at: i64,
    ) -> Result<Option<Affiliation>> {
        Ok(self
            .affiliations_where(person_sub, Some(organisation_id), at)
            .await?
            .into_iter()
            .next())
    }

    async fn affiliations_where(
        &self,
        person_sub: &Subject,
        organisation_id: Option<&OrganisationId>,
        at: i64,
    ) -> Result<Vec<Affiliation>> {
        #[derive(FromRow)]
        struct Row {
            #[sqlx(flatten)]
            org: OrganisationRow,
            form: String,
        }
        let org_filter = organisation_id.map_or("", OrganisationId::as_str);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT o.id, o.ico, o.name, o.legal_form, o.seat_street, o.seat_city, \
             o.seat_postcode, o.social_service_provider, o.nno_family_support, c.form \
             FROM consents c JOIN organisations o ON o.id = c.organisation_id \
             WHERE c.person_sub = $1 AND c.withdrawn_at IS NULL AND ($2 = '' OR o.id = $2) \
             ORDER BY o.search_key, o.id",
        )
        .bind(person_sub)
        .bind(org_filter)
        .fetch_all(self.pool())
        .await?;
        let mut out: Vec<Affiliation> = Vec::new();
        for row in rows {
            let form: Application = row
                .form
                .parse()
                .map_err(|_| StorageError::Corrupt(format!("consent form {:?}", row.form)))?;
            let org = row.org.into_organisation()?;
            let i = match out.iter().position(|a| a.organisation.id == org.id) {
                Some(i) => i,
                None => {
                    out.push(Affiliation {
                        organisation: org,
                        consents: Consents::default(),
                        statutory: false,
                        delegations: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            match form {
                Application::Poskytovatel => out[i].consents.poskytovatel = true,
                Application::Rodina => out[i].consents.rodina = true,
            }
        }
        if out.is_empty() {
            return Ok(out);
        }
        let statutory: Vec<(OrganisationId,)> = sqlx::query_as(concat!(
            "SELECT organisation_id FROM statutory_roles WHERE person_sub = $1 AND ",
            statutory_now!()
        ))
        .bind(person_sub)
        .bind(at)
        .fetch_all(self.pool())
        .await?;
        // Each delegation the person holds, with whether its delegator is statutory now.
        let delegations: Vec<(OrganisationId, String, Option<String>)> = sqlx::query_as(
            "SELECT d.organisation_id, d.id, s.id FROM delegations d \
             LEFT JOIN statutory_roles s ON s.person_sub = d.delegator_sub \
             AND s.organisation_id = d.organisation_id \
             AND s.from_at <= $2 AND (s.until_at IS NULL OR s.until_at > $2) \
             WHERE d.delegate_sub = $1 AND d.revoked_at IS NULL",
        )
        .bind(person_sub)
        .bind(at)
        .fetch_all(self.pool())
        .await?;
        for a in &mut out {
            a.statutory = statutory.iter().any(|(o,)| *o == a.organisation.id);
            a.delegations = delegations
                .iter()
                .filter(|(o, _, _)| *o == a.organisation.id)
                .map(|(_, _, role)| DelegationFacts {
                    revoked: false,
                    delegator_statutory_now: role.is_some(),
                })
                .collect();
        }
        Ok(out)
    }

    /// Current members of an organisation (membership not ended), by name.
    pub async fn members(&self, organisation_id: &OrganisationId) -> Result<Vec<Member>> {
        Ok(sqlx::query_as(
            "SELECT p.sub, p.given_name, p.family_name, a.username FROM memberships m \
             JOIN persons p ON p.sub = m.person_sub LEFT JOIN accounts a ON a.sub = p.sub \
             WHERE m.organisation_id = $1 AND m.until_at IS NULL \
             ORDER BY p.search_key, p.sub",
        )
        .bind(organisation_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Is the person a current member of the organisation?
    pub async fn is_member(
        &self,
        person_sub: &Subject,
        organisation_id: &OrganisationId,
    ) -> Result<bool> {
        let n: (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM memberships WHERE person_sub = $1 AND organisation_id = $2 \
             AND until_at IS NULL",
        )
        .bind(person_sub)
        .bind(organisation_id)
        .fetch_one(self.pool())
        .await?;
        Ok(n.0 > 0)
    }

    /// People whose name (ignoring case and diacritics), username or e-mail contains
    /// `query`, or whose MPSV client identifier is `query`; by name, `offset` rows skipped.
    pub async fn search_persons(
        &self,
        query: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<PersonSummary>> {
        let q = query.trim();
        let pattern = format!("%{}%", search_key(q).replace(['%', '_', '\\'], ""));
        let mpsv_id = MpsvClientId::parse(q)
            .map(|i| i.as_str().to_owned())
            .unwrap_or_default();
        Ok(sqlx::query_as(
            "SELECT p.sub, p.given_name, p.family_name, p.email, p.mpsv_client_id, a.username, \
             a.status, a.role FROM persons p LEFT JOIN accounts a ON a.sub = p.sub \
             WHERE p.search_key LIKE $1 OR lower(p.email) LIKE $1 OR a.username LIKE $1 \
             OR p.mpsv_client_id = $2 ORDER BY p.search_key, p.sub LIMIT $3 OFFSET $4",
        )
        .bind(pattern)
        .bind(mpsv_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?)
    }

    pub async fn insert_letter_in(&self, tx: &mut Tx, l: &LetterRecord<'_>) -> Result<()> {
        sqlx::query(
            "INSERT INTO letters (reference, person_sub, organisation_id, issued_by, issued_at, \
             password_expires_at) VALUES ($1,$2,$3,$4,$5,$6)",
        )
        .bind(l.reference)
        .bind(l.person_sub)
        .bind(l.organisation_id)
        .bind(l.issued_by)
        .bind(now())
        .bind(l.password_expires_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}
