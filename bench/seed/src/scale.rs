//! `scale` mode (issue 16): a registry the size of MPSV's — people with accounts,
//! organisations, consents (with their memberships and MPSV client identifiers), statutory
//! roles and delegations — through the library's own storage functions (`*_in` on a
//! transaction), a thousand rows per transaction, several transactions at once.
//!
//! Every account has the same password, `SCALE_PASSWORD`, hashed once (the seed measures
//! lookups, not Argon2). Usernames are `osoba<N>`, e-mails `osoba<N>@example.cz`, so a load
//! generator can pick any person. Person `i`:
//! - consents to organisation `i mod ORGS` for poskytovatel; the first fifth of them also to
//!   organisation `(7 i + 1) mod ORGS` for rodina (1.2 consents a person);
//! - for `i < ROLES`, is statutory representative of organisation `i`;
//! - for `ROLES ≤ i < 2 ROLES`, is delegated by person `i − ROLES` for organisation
//!   `i − ROLES`.

use anyhow::{bail, Context};
use mpsv_idp::domain::account::{Account, Username};
use mpsv_idp::domain::client::Application;
use mpsv_idp::domain::date::Date;
use mpsv_idp::domain::id::{OrganisationId, Subject};
use mpsv_idp::domain::organisation::{Ico, Organisation, OrganisationKind, Seat};
use mpsv_idp::domain::person::ConsentForm;
use mpsv_idp::secrets::now;
use mpsv_idp::storage::Storage;

pub const SCALE_PASSWORD: &str = "Bench-Heslo-2026!";
const BATCH: usize = 1_000;
const TASKS: usize = 4;

const GIVEN: [&str; 8] = [
    "Jana", "Petr", "Eliška", "Tomáš", "Zuzana", "Jiří", "Věra", "Ondřej",
];
const FAMILY: [&str; 8] = [
    "Nováková",
    "Dvořák",
    "Černá",
    "Procházka",
    "Kučerová",
    "Veselý",
    "Horáková",
    "Šťastný",
];
const KINDS: [&str; 4] = [
    "Rodinné centrum",
    "Spolek přátel",
    "Azylový dům",
    "Poradna pro rodinu",
];

/// The `n`-th valid IČO (8 digits with the register's check digit; `n` < 10⁷).
pub fn ico(n: usize) -> Ico {
    let base = format!("{:07}", n % 10_000_000);
    let sum: u32 = base
        .bytes()
        .zip((2..=8).rev())
        .map(|(b, w)| u32::from(b - b'0') * w)
        .sum();
    let check = (11 - sum % 11) % 10;
    Ico::parse(&format!("{base}{check}")).expect("a computed check digit")
}

pub async fn run(url: &str, people: usize, orgs: usize, roles: usize) -> anyhow::Result<()> {
    if orgs == 0 || roles > orgs || 2 * roles > people {
        bail!("need ORGS > 0, ROLES ≤ ORGS and 2 × ROLES ≤ PEOPLE");
    }
    let storage = Storage::connect(url, TASKS as u32).await?;
    storage.migrate().await?;
    // SQLite writes one transaction at a time anyway (and a writer waiting on another's lock
    // can fail with "database is locked"); PostgreSQL takes several at once.
    let tasks_at_once = match storage.backend() {
        mpsv_idp::storage::Backend::Sqlite => 1,
        mpsv_idp::storage::Backend::Postgres => TASKS,
    };
    let hash = mpsv_idp::password::hash_now(SCALE_PASSWORD).context("hashing")?;
    let t0 = std::time::Instant::now();

    // Organisations first; their ids are needed by everything else.
    let mut org_ids = Vec::with_capacity(orgs);
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in (0..orgs).collect::<Vec<_>>().chunks(BATCH) {
        let storage = storage.clone();
        let chunk = chunk.to_vec();
        tasks.spawn(async move {
            let mut tx = storage.begin_write().await?;
            let mut ids = Vec::with_capacity(chunk.len());
            for i in chunk {
                let seat = Seat::parse(&format!("Hlavní {}", i % 500 + 1), "Brno", "602 00")
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                let kind = OrganisationKind {
                    social_service_provider: i % 3 != 0,
                    nno_family_support: i % 4 == 0,
                };
                let name = format!("{} {} č. {i}", KINDS[i % 4], FAMILY[i % 8]);
                let o = Organisation::new(ico(1_000_000 + i), &name, "spolek", seat, kind)
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                storage.insert_organisation_in(&mut tx, &o).await?;
                ids.push((i, o.id));
            }
            tx.commit().await?;
            anyhow::Ok(ids)
        });
        if tasks.len() >= tasks_at_once {
            org_ids.extend(tasks.join_next().await.context("task")???);
        }
    }
    while let Some(r) = tasks.join_next().await {
        org_ids.extend(r??);
    }
    org_ids.sort_by_key(|(i, _)| *i);
    let org_ids: std::sync::Arc<Vec<OrganisationId>> =
        std::sync::Arc::new(org_ids.into_iter().map(|(_, id)| id).collect());
    eprintln!("{orgs} organisations in {:.1}s", t0.elapsed().as_secs_f64());

    // People with accounts and consents; statutory roles and delegations need the subjects
    // of the first 2 × ROLES people, so those are kept.
    let signed = Date::parse("2026-01-15").map_err(|e| anyhow::anyhow!("{e}"))?;
    let form =
        ConsentForm::new(signed, signed, "MPSV-BENCH/2026").map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut subs: Vec<(usize, Subject)> = Vec::with_capacity(2 * roles);
    let mut consents = 0usize;
    let mut people_tasks = tokio::task::JoinSet::new();
    let mut done = |r: anyhow::Result<(Vec<(usize, Subject)>, usize)>| -> anyhow::Result<()> {
        let (kept, n) = r?;
        subs.extend(kept);
        consents += n;
        Ok(())
    };
    for chunk in (0..people).collect::<Vec<_>>().chunks(BATCH) {
        let (storage, chunk, hash, form, org_ids) = (
            storage.clone(),
            chunk.to_vec(),
            hash.clone(),
            form.clone(),
            std::sync::Arc::clone(&org_ids),
        );
        people_tasks.spawn(async move {
            let mut tx = storage.begin_write().await?;
            let mut kept = Vec::new();
            let mut n = 0usize;
            let t = now();
            for i in chunk {
                let username = Username::parse(&format!("osoba{i}"))
                    .map_err(|e| anyhow::anyhow!("username: {e}"))?;
                let a = Account::new(
                    &username,
                    GIVEN[i % 8],
                    FAMILY[(i / 8) % 8],
                    Some(format!("osoba{i}@example.cz")),
                    hash.clone(),
                    t,
                );
                storage.insert_account_in(&mut tx, &a).await?;
                // poskytovatel with organisation i mod ORGS; every fifth person also rodina
                // with another one.
                let own = i % org_ids.len();
                let other = (7 * i + 1) % org_ids.len();
                let mut forms = vec![(own, Application::Poskytovatel)];
                if i % 5 == 0 && other != own {
                    forms.push((other, Application::Rodina));
                }
                for (org, app) in forms {
                    let consent = uuid::Uuid::new_v4().to_string();
                    storage
                        .record_consent_in(
                            &mut tx,
                            &consent,
                            &a.sub,
                            &org_ids[org],
                            app,
                            &form,
                            "bench-seed",
                        )
                        .await?;
                    n += 1;
                }
                if i < 2 * roles {
                    kept.push((i, a.sub.clone()));
                }
            }
            tx.commit().await?;
            anyhow::Ok((kept, n))
        });
        if people_tasks.len() >= tasks_at_once {
            done(people_tasks.join_next().await.context("task")??)?;
        }
    }
    while let Some(r) = people_tasks.join_next().await {
        done(r?)?;
    }
    eprintln!(
        "{people} people with accounts, {consents} consents in {:.1}s",
        t0.elapsed().as_secs_f64()
    );

    subs.sort_by_key(|(i, _)| *i);
    let t = now() - 86_400;
    for chunk in (0..roles).collect::<Vec<_>>().chunks(BATCH) {
        let mut tx = storage.begin_write().await?;
        for &i in chunk {
            let role = uuid::Uuid::new_v4().to_string();
            storage
                .start_statutory_role_in(&mut tx, &role, &subs[i].1, &org_ids[i], t, "bench-seed")
                .await?;
            let delegation = uuid::Uuid::new_v4().to_string();
            let ok = storage
                .insert_delegation_in(
                    &mut tx,
                    &delegation,
                    &org_ids[i],
                    &subs[roles + i].1,
                    &subs[i].1,
                    "bench-seed",
                    t + 1,
                )
                .await?;
            if !ok {
                bail!("delegation {i} refused");
            }
        }
        tx.commit().await?;
    }
    eprintln!(
        "{roles} statutory roles and {roles} delegations; all in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    storage.close().await;
    Ok(())
}
