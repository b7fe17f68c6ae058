//! Seeds N distinct, valid refresh tokens for the refresh_token benchmark, through the
//! library's own storage layer (same SQL and migrations as the server).
//!
//! For every token: one active account, one live SSO session, one token family bound to that
//! session, and the family's first refresh token. The plaintext tokens are written one per
//! line to the output file (the server stores only their SHA-256).
//!
//! Usage: bench-seed DATABASE_URL CLIENT_ID COUNT OUT_FILE
//!        bench-seed scale DATABASE_URL PEOPLE ORGANISATIONS STATUTORY_ROLES   (see scale.rs)

mod scale;

use std::io::Write;

use anyhow::{bail, Context};
use mpsv_idp::domain::account::{Account, Username};
use mpsv_idp::domain::amr::{Amr, Method};
use mpsv_idp::domain::id::SessionId;
use mpsv_idp::secrets::{now, PlainToken};
use mpsv_idp::storage::sessions::Session;
use mpsv_idp::storage::tokens::TokenFamily;
use mpsv_idp::storage::Storage;

/// Concurrent inserting tasks. SQLite serialises writers anyway; a few tasks keep the
/// connection threads busy while the others build their rows.
const TASKS: usize = 4;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() == 6 && args[1] == "scale" {
        let n = |i: usize| -> anyhow::Result<usize> {
            args[i]
                .parse()
                .with_context(|| format!("{} must be a number", args[i]))
        };
        return scale::run(&args[2], n(3)?, n(4)?, n(5)?).await;
    }
    if args.len() != 5 {
        bail!("usage: {} DATABASE_URL CLIENT_ID COUNT OUT_FILE", args[0]);
    }
    let (url, client_id, out) = (&args[1], args[2].clone(), &args[4]);
    let count: usize = args[3].parse().context("COUNT must be a number")?;
    let storage = Storage::connect(url, TASKS as u32).await?;
    storage.migrate().await?;
    let started = std::time::Instant::now();
    // Usernames are unique: a batch prefix lets the tool run again on the same database.
    let batch = uuid::Uuid::new_v4().simple().to_string()[..8].to_owned();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let storage = storage.clone();
        let client_id = client_id.clone();
        let batch = batch.clone();
        tasks.spawn(async move {
            let mut tokens = Vec::new();
            for i in (t..count).step_by(TASKS) {
                tokens.push(seed_one(&storage, &client_id, &batch, i).await?);
            }
            anyhow::Ok(tokens)
        });
    }
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(out).with_context(|| format!("creating {out}"))?,
    );
    let mut written = 0;
    while let Some(r) = tasks.join_next().await {
        for token in r?? {
            writeln!(file, "{}", token.expose())?;
            written += 1;
        }
    }
    file.flush()?;
    storage.close().await;
    eprintln!(
        "seeded {written} refresh tokens for {client_id} in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn seed_one(
    storage: &Storage,
    client_id: &str,
    batch: &str,
    i: usize,
) -> anyhow::Result<PlainToken> {
    let t = now();
    let username = Username::parse(&format!("bench-{batch}-{i}"))
        .map_err(|e| anyhow::anyhow!("username: {e}"))?;
    // The password hash is never checked by the refresh grant; it is not a valid PHC string,
    // so nobody can log in with these accounts.
    let account = Account::new(
        &username,
        "Jana",
        "Nováková",
        Some(format!("bench{i}@example.cz")),
        "!bench-no-password".into(),
        t,
    );
    let sub = account.sub.clone();
    storage.insert_account(&account).await?;
    let session = Session {
        sid: SessionId::generate(),
        sub: sub.clone(),
        auth_time: t,
        amr: Amr::of(Method::Password),
        expires_at: t + 10 * 3600,
        created_at: t,
        last_seen_at: t,
        ip: Some("127.0.0.1".into()),
        user_agent: Some("bench-seed".into()),
        csrf: PlainToken::generate().expose().to_owned(),
        organisation_id: None,
    };
    storage
        .insert_session(&PlainToken::generate().hashed(), &session)
        .await?;
    let family = TokenFamily {
        id: uuid::Uuid::new_v4().simple().to_string(),
        client_id: client_id.to_owned(),
        sub,
        sid: session.sid.clone(),
        scope: "openid profile email".into(),
        auth_time: t,
        amr: Amr::of(Method::Password),
        expires_at: session.expires_at,
        revoked_at: None,
        organisation_id: None,
        dpop_jkt: None,
        claims: None,
    };
    let refresh = PlainToken::generate();
    storage
        .insert_family(&family, None, Some((&refresh.hashed(), t + 8 * 3600)))
        .await?;
    Ok(refresh)
}
