//! `mpsv-idp organisation|consent|account|statutory|delegation …`: the operators' register on
//! the server. Every command goes through `crate::registry` (rules and audit), like the web.

use std::path::PathBuf;

use anyhow::{anyhow, bail, Context};
use clap::{Args, Subcommand};

use crate::app::AppState;
use crate::config::Config;
use crate::domain::account::Username;
use crate::domain::client::Application;
use crate::domain::date::Date;
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::domain::mpsv_id::MpsvClientId;
use crate::domain::organisation::{Ico, Organisation, OrganisationKind, Seat};
use crate::domain::person::{ConsentForm, Person};
use crate::registry::{self, consents::Consenter};

#[derive(Subcommand, Debug)]
pub enum OrganisationCommand {
    /// Register an organisation (IČO checked).
    Add {
        #[arg(long)]
        ico: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        legal_form: String,
        #[arg(long)]
        street: String,
        #[arg(long)]
        city: String,
        #[arg(long)]
        postcode: String,
        /// A registered provider of social services (Act 108/2006).
        #[arg(long)]
        social_service_provider: bool,
        /// An NNO active in family support (its poskytovatel users may use rodina).
        #[arg(long)]
        nno_family_support: bool,
    },
    /// Search by name or IČO (empty: all), with members, representatives and delegations.
    Show { query: Option<String> },
    /// Import organisations from a CSV file (header: ico, name, legal_form, street, city,
    /// postcode, social_service_provider, nno_family_support). Valid rows are registered,
    /// invalid ones reported; exits with 1 when any row was invalid.
    Import {
        file: PathBuf,
        /// Check every row and report, write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

#[derive(Args, Debug)]
pub struct PersonRef {
    /// The person: MPSV client identifier (MP…) or `sub`.
    #[arg(long)]
    pub person: String,
}

#[derive(Subcommand, Debug)]
pub enum ConsentCommand {
    /// Record a signed consent; a new person is created from the names when `--person` is
    /// not given. Prints the MPSV client identifier.
    Record {
        #[arg(long)]
        person: Option<String>,
        #[arg(long)]
        given_name: Option<String>,
        #[arg(long)]
        family_name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        /// IČO of the organisation.
        #[arg(long)]
        organisation: String,
        /// poskytovatel or rodina.
        #[arg(long)]
        form: String,
        /// Date signed (YYYY-MM-DD).
        #[arg(long)]
        signed: String,
        /// Date received by MPSV (YYYY-MM-DD).
        #[arg(long)]
        received: String,
        /// MPSV reference number of the received form.
        #[arg(long)]
        reference: String,
    },
    /// Withdraw a consent (by its id).
    Withdraw {
        id: String,
        #[arg(long)]
        reason: String,
    },
    /// List a person's consents.
    List(PersonRef),
}

#[derive(Subcommand, Debug)]
pub enum AccountCommand {
    /// Create the account of a person with a consent; writes the credentials letter (PDF).
    Create {
        #[command(flatten)]
        person: PersonRef,
        /// IČO of the organisation the letter goes to.
        #[arg(long)]
        organisation: String,
        #[arg(long)]
        username: Option<String>,
        /// Where to write the letter.
        #[arg(long)]
        letter: PathBuf,
    },
    /// Lock, unlock, disable or enable a client's account (locking and disabling sign the
    /// person out everywhere).
    Status {
        #[command(flatten)]
        person: PersonRef,
        /// lock, unlock, disable or enable.
        #[arg(long)]
        action: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Sign the person out of every session and application.
    EndSessions {
        #[command(flatten)]
        person: PersonRef,
    },
    /// New initial password and letter; the previous letter stops working.
    ReissueLetter {
        #[command(flatten)]
        person: PersonRef,
        #[arg(long)]
        organisation: String,
        #[arg(long)]
        letter: PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum StatutoryCommand {
    /// Record that the person is a statutory representative (from today, or `--from`).
    Start {
        #[command(flatten)]
        person: PersonRef,
        #[arg(long)]
        organisation: String,
        #[arg(long)]
        from: Option<String>,
    },
    /// Record the end of the role: now, or at the start of `--on` (YYYY-MM-DD, Prague time).
    End {
        #[command(flatten)]
        person: PersonRef,
        #[arg(long)]
        organisation: String,
        #[arg(long)]
        on: Option<String>,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum DelegationCommand {
    /// On the organisation's behalf: `--from` (a statutory representative) delegates submit
    /// to `--to`.
    Grant {
        #[arg(long)]
        organisation: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
    Revoke {
        #[arg(long)]
        organisation: String,
        id: String,
        #[arg(long)]
        reason: String,
    },
}

#[derive(Subcommand, Debug)]
pub enum RegistryCommand {
    #[command(subcommand)]
    Organisation(OrganisationCommand),
    #[command(subcommand)]
    Consent(ConsentCommand),
    #[command(subcommand)]
    Account(AccountCommand),
    #[command(subcommand)]
    Statutory(StatutoryCommand),
    #[command(subcommand)]
    Delegation(DelegationCommand),
}

/// The operator on the server, as the audit log records them.
pub(super) fn actor() -> String {
    format!(
        "cli:{}",
        std::env::var("SUDO_USER")
            .or_else(|_| std::env::var("USER"))
            .unwrap_or_else(|_| "unknown".into())
    )
}

fn bad(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("{e}")
}

async fn person_sub(state: &AppState, reference: &str) -> anyhow::Result<Subject> {
    if reference.trim().to_uppercase().starts_with("MP") {
        let id = MpsvClientId::parse(reference).map_err(bad)?;
        let p = state.storage.person_by_mpsv_id(&id).await?;
        return p
            .map(|p| p.sub)
            .ok_or_else(|| anyhow!("no person {id}", id = id.as_str()));
    }
    let p = state
        .storage
        .person(&Subject::lookup(reference.trim()))
        .await?;
    p.map(|p| p.sub)
        .ok_or_else(|| anyhow!("no person {reference}"))
}

async fn organisation_id(state: &AppState, ico: &str) -> anyhow::Result<OrganisationId> {
    let ico = Ico::parse(ico).map_err(bad)?;
    let o = state.storage.organisation_by_ico(&ico).await?;
    o.map(|o| o.id)
        .ok_or_else(|| anyhow!("no organisation with IČO {}", ico.as_str()))
}

/// These commands manage MPSV's clients' accounts; staff accounts are the administrators'.
async fn guard_client_account(state: &AppState, sub: &Subject) -> anyhow::Result<()> {
    match state.storage.account(sub).await? {
        Some(a) if a.role.privileged() => bail!("a staff account: use the administrators' tools"),
        Some(_) => Ok(()),
        None => bail!("the person has no account"),
    }
}

/// Start of the day in Prague, as Unix seconds.
fn day_start(s: &str) -> anyhow::Result<i64> {
    let d = Date::parse(s).map_err(bad)?;
    Ok(d.start_in_prague())
}

fn write_letter(path: &PathBuf, l: &registry::accounts::IssuedLetter) -> anyhow::Result<()> {
    std::fs::write(path, &l.pdf).with_context(|| format!("writing {}", path.display()))?;
    println!(
        "letter {} for {} written to {} (initial password valid until {})",
        l.reference,
        l.username,
        path.display(),
        Date::in_prague(l.password_expires_at).czech()
    );
    Ok(())
}

pub async fn run(config: Config, cmd: RegistryCommand) -> anyhow::Result<()> {
    let state = AppState::build(config).await?;
    let actor = actor();
    let a = actor.as_str();
    match cmd {
        RegistryCommand::Organisation(OrganisationCommand::Add {
            ico,
            name,
            legal_form,
            street,
            city,
            postcode,
            social_service_provider,
            nno_family_support,
        }) => {
            let o = Organisation::new(
                Ico::parse(&ico).map_err(bad)?,
                &name,
                &legal_form,
                Seat::parse(&street, &city, &postcode).map_err(bad)?,
                OrganisationKind {
                    social_service_provider,
                    nno_family_support,
                },
            )
            .map_err(bad)?;
            registry::organisations::create(&state, a, &o).await?;
            println!("organisation {} ({}) registered", o.name, o.ico.as_str());
        }
        RegistryCommand::Organisation(OrganisationCommand::Import { file, dry_run }) => {
            use registry::import::Outcome;
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {} (UTF-8 expected)", file.display()))?;
            let report = registry::import::import(&state, a, &text, dry_run).await?;
            let mut invalid = 0;
            for r in &report {
                let what = match &r.outcome {
                    Outcome::Imported => "imported".to_owned(),
                    Outcome::WouldImport => "valid (dry run: not imported)".to_owned(),
                    Outcome::Exists => "already registered (unchanged)".to_owned(),
                    Outcome::Invalid(reason) => {
                        invalid += 1;
                        format!("INVALID: {reason}")
                    }
                };
                println!("line {:>5}  {:<10} {what}", r.line, r.ico);
            }
            println!(
                "{} rows: {} {}, {} already registered, {invalid} invalid",
                report.len(),
                report
                    .iter()
                    .filter(|r| matches!(r.outcome, Outcome::Imported | Outcome::WouldImport))
                    .count(),
                if dry_run { "valid" } else { "imported" },
                report
                    .iter()
                    .filter(|r| r.outcome == Outcome::Exists)
                    .count(),
            );
            if invalid > 0 {
                std::process::exit(1);
            }
        }
        RegistryCommand::Organisation(OrganisationCommand::Show { query }) => {
            let t = crate::secrets::now();
            for o in state
                .storage
                .search_organisations(query.as_deref().unwrap_or(""), 100)
                .await?
            {
                println!(
                    "{}  {}  {}, {} {}  provider={} nno_family_support={}",
                    o.ico.as_str(),
                    o.name,
                    o.seat.street,
                    o.seat.postcode,
                    o.seat.city,
                    o.kind.social_service_provider,
                    o.kind.nno_family_support
                );
                let statutory = state.storage.statutory_roles(Some(&o.id), None, t).await?;
                for m in state.storage.members(&o.id).await? {
                    let role = if statutory.iter().any(|r| r.person_sub == m.sub) {
                        " [statutory]"
                    } else {
                        ""
                    };
                    println!(
                        "    {} {} ({}){role}",
                        m.given_name,
                        m.family_name,
                        m.username.as_deref().unwrap_or("no account")
                    );
                }
                for d in state.storage.delegations(&o.id).await? {
                    println!(
                        "    delegation {}: {} -> {}",
                        d.id, d.delegator_name, d.delegate_name
                    );
                }
            }
        }
        RegistryCommand::Consent(ConsentCommand::Record {
            person,
            given_name,
            family_name,
            email,
            organisation,
            form,
            signed,
            received,
            reference,
        }) => {
            let org = organisation_id(&state, &organisation).await?;
            let form: Application = form
                .parse()
                .map_err(|_| anyhow!("form: poskytovatel or rodina"))?;
            let paper = ConsentForm::new(
                Date::parse(&signed).map_err(bad)?,
                Date::parse(&received).map_err(bad)?,
                &reference,
            )
            .map_err(bad)?;
            let new_person;
            let existing;
            let subject = match person {
                Some(p) => {
                    existing = person_sub(&state, &p).await?;
                    Consenter::Existing(&Subject::lookup(existing.as_str()))
                }
                None => {
                    let (Some(g), Some(f)) = (given_name, family_name) else {
                        bail!("give --person, or --given-name and --family-name for a new person");
                    };
                    new_person = Person::new(&g, &f, email.as_deref()).map_err(bad)?;
                    Consenter::New(&new_person)
                }
            };
            let r = registry::consents::record(
                &state,
                a,
                subject,
                &OrganisationId::lookup(org.as_str()),
                form,
                &paper,
            )
            .await?;
            println!(
                "consent {} recorded; person {} has MPSV client identifier {}",
                r.consent_id,
                r.person_sub,
                r.mpsv_client_id.as_str()
            );
        }
        RegistryCommand::Consent(ConsentCommand::Withdraw { id, reason }) => {
            registry::consents::withdraw(&state, a, &id, &reason).await?;
            println!("consent {id} withdrawn");
        }
        RegistryCommand::Consent(ConsentCommand::List(p)) => {
            let sub = person_sub(&state, &p.person).await?;
            for c in state
                .storage
                .consents_of(&Subject::lookup(sub.as_str()))
                .await?
            {
                println!(
                    "{}  {}  organisation {}  signed {} received {}  ref {}  {}",
                    c.id,
                    c.form,
                    c.organisation_id,
                    c.signed_on,
                    c.received_on,
                    c.reference,
                    if c.withdrawn_at.is_some() {
                        "WITHDRAWN"
                    } else {
                        "active"
                    }
                );
            }
        }
        RegistryCommand::Account(AccountCommand::Create {
            person,
            organisation,
            username,
            letter,
        }) => {
            let sub = person_sub(&state, &person.person).await?;
            let org = organisation_id(&state, &organisation).await?;
            let username = username
                .map(|u| Username::parse(&u))
                .transpose()
                .map_err(bad)?;
            let l = registry::accounts::create(&state, a, &sub, &org, username).await?;
            write_letter(&letter, &l)?;
        }
        RegistryCommand::Account(AccountCommand::Status {
            person,
            action,
            reason,
        }) => {
            let sub = person_sub(&state, &person.person).await?;
            guard_client_account(&state, &Subject::lookup(sub.as_str())).await?;
            let action: registry::accounts::StatusAction = action.parse()?;
            registry::accounts::set_status(
                &state,
                a,
                &Subject::lookup(sub.as_str()),
                action,
                &reason,
            )
            .await?;
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            println!("account {}: {}", person.person, action.as_str());
        }
        RegistryCommand::Account(AccountCommand::EndSessions { person }) => {
            let sub = person_sub(&state, &person.person).await?;
            let n =
                registry::accounts::end_sessions(&state, a, &Subject::lookup(sub.as_str())).await?;
            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            println!("{n} sessions ended");
        }
        RegistryCommand::Account(AccountCommand::ReissueLetter {
            person,
            organisation,
            letter,
        }) => {
            let sub = person_sub(&state, &person.person).await?;
            let org = organisation_id(&state, &organisation).await?;
            let l = registry::accounts::reissue_letter(&state, a, &sub, &org).await?;
            write_letter(&letter, &l)?;
        }
        RegistryCommand::Statutory(StatutoryCommand::Start {
            person,
            organisation,
            from,
        }) => {
            let sub = person_sub(&state, &person.person).await?;
            let org = organisation_id(&state, &organisation).await?;
            let from = match from {
                Some(d) => day_start(&d)?,
                None => crate::secrets::now(),
            };
            registry::statutory::start(&state, a, &sub, &org, from).await?;
            println!("statutory role recorded");
        }
        RegistryCommand::Statutory(StatutoryCommand::End {
            person,
            organisation,
            on,
            reason,
        }) => {
            let sub = person_sub(&state, &person.person).await?;
            let org = organisation_id(&state, &organisation).await?;
            let at = on.as_deref().map(day_start).transpose()?;
            registry::statutory::end(&state, a, &sub, &org, at, &reason).await?;
            // Back-channel logout is sent in the background: give it time to go out.
            tokio::time::sleep(std::time::Duration::from_secs(2)).await;
            println!("statutory role ended");
        }
        RegistryCommand::Delegation(DelegationCommand::Grant {
            organisation,
            from,
            to,
        }) => {
            let org = organisation_id(&state, &organisation).await?;
            let from = person_sub(&state, &from).await?;
            let to = person_sub(&state, &to).await?;
            let id = registry::delegations::grant(&state, a, &org, &from, &to).await?;
            println!("delegation {id} granted");
        }
        RegistryCommand::Delegation(DelegationCommand::Revoke {
            organisation,
            id,
            reason,
        }) => {
            let org = organisation_id(&state, &organisation).await?;
            registry::delegations::revoke(
                &state,
                a,
                &OrganisationId::lookup(org.as_str()),
                &id,
                &reason,
            )
            .await?;
            println!("delegation {id} revoked");
        }
    }
    Ok(())
}
