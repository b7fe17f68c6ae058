//! The command line: `serve`, `migrate`, `keys`, `client`, `staff`, and the operators'
//! register (`organisation`, `consent`, `account`, `statutory`, `delegation`, in
//! `cli/registry.rs`). Every command loads the same configuration as the server and talks to
//! the same storage layer.

mod registry;

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use secrecy::SecretString;

use crate::app::{self, AppState};
use crate::config::Config;
use crate::domain::client::{Client, SigningAlg};
use crate::domain::password_policy::Candidate;
use crate::secrets::{now, PlainToken};
use crate::services;
use crate::storage::Storage;

#[derive(Parser, Debug)]
#[command(
    name = "mpsv-idp",
    version,
    about = "OpenID Connect identity provider for MPSV OKslužby"
)]
pub struct Cli {
    /// Configuration file (TOML); `MPSV_IDP_*` environment variables override it.
    #[arg(long, global = true, env = "MPSV_IDP_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

// Parsed once per process; boxing the larger variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the server.
    Serve {
        /// Create the demo data set (if missing) and print how to use it. Refused unless the
        /// issuer is a loopback address: the demo staff's password and TOTP secret are public.
        #[arg(long)]
        demo: bool,
        /// Allow `--demo` with an issuer that is not loopback (a shared test machine).
        #[arg(long, requires = "demo")]
        i_know_this_is_not_production: bool,
    },
    /// The demo data set: list what `serve --demo` created, or remove it.
    #[command(subcommand)]
    Demo(DemoCommand),
    /// Apply database migrations and exit.
    Migrate,
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// OAuth clients (relying parties).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Accounts of MPSV staff (operators and administrators). Accounts of MPSV's clients
    /// are created with `account create` after a consent is recorded.
    #[command(subcommand)]
    Staff(UserCommand),
    #[command(flatten)]
    Registry(registry::RegistryCommand),
    /// The audit log: verify its hash chain, export it.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand, Debug)]
pub enum DemoCommand {
    /// List the clients, organisations and persons the demo created.
    List,
    /// Delete them and everything that refers to them (the audit log keeps its records).
    Remove,
}

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Walk the hash chain; exits with 1 at the first record that does not verify.
    Verify,
    /// Write the log as JSON lines (oldest first) to standard output or `--output`.
    Export {
        /// Only records from this date (YYYY-MM-DD, Prague time).
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        output: Option<PathBuf>,
    },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Pre-publish a new key; it starts signing after the rotation delay.
    Rotate {
        /// Only this algorithm (default: all).
        #[arg(long)]
        alg: Option<String>,
        /// Seconds until the new key signs (default: `keys.rotation_delay`).
        #[arg(long)]
        delay: Option<i64>,
    },
    /// List keys and their state.
    List,
    /// Print a fresh key-encryption key (KEK) for `MPSV_IDP_KEK` or `keys.kek_file`.
    GenerateKek,
    /// Re-seal the stored keys under the current KEK (MPSV_IDP_KEK) that an earlier one
    /// (MPSV_IDP_KEK_PREVIOUS) sealed: step 2 of a KEK rotation, once every node has the new
    /// KEK (docs/keys.md).
    Reseal,
    /// Import a key folder (signing keys and data.key) into the database, sealed with the
    /// configured KEK: the move from one node with files to many nodes. Idempotent.
    Import {
        /// The key folder (default: `key_dir`).
        #[arg(long)]
        from: Option<PathBuf>,
    },
}

#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register a client; prints its secret once.
    Add(ClientArgs),
    /// List registered clients.
    List,
    /// Remove a client.
    Remove {
        client_id: String,
    },
    /// Issue a new secret (the old one stops working at once); prints it once.
    RotateSecret {
        client_id: String,
    },
    /// Stop a client from signing anyone in or getting tokens (reversible).
    Disable {
        client_id: String,
    },
    Enable {
        client_id: String,
    },
}

#[derive(Args, Debug)]
pub struct ClientArgs {
    #[arg(long = "id")]
    pub client_id: String,
    #[arg(long)]
    pub name: String,
    #[arg(long = "redirect-uri")]
    pub redirect_uris: Vec<String>,
    #[arg(long = "post-logout-redirect-uri")]
    pub post_logout_redirect_uris: Vec<String>,
    #[arg(long)]
    pub backchannel_logout_uri: Option<String>,
    /// client_secret_basic (default), client_secret_post, private_key_jwt, none.
    #[arg(long, default_value = "client_secret_basic")]
    pub auth_method: String,
    /// Repeatable; default authorization_code and refresh_token.
    #[arg(long = "grant-type")]
    pub grant_types: Vec<String>,
    /// Repeatable; default openid, profile, email.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// poskytovatel or rodina.
    #[arg(long)]
    pub application: Option<String>,
    /// RS256, ES256 or EdDSA.
    #[arg(long, default_value = "RS256")]
    pub id_token_alg: String,
    /// RS256, ES256 or EdDSA.
    #[arg(long, default_value = "RS256")]
    pub access_token_alg: String,
    /// JWK Set file with the client's public keys (private_key_jwt).
    #[arg(long)]
    pub jwks_file: Option<PathBuf>,
    /// Do not require PKCE from this confidential client (public clients always need it).
    #[arg(long)]
    pub no_pkce: bool,
    /// Accept this client's authorization requests only through the PAR endpoint (RFC 9126).
    #[arg(long)]
    pub require_par: bool,
    /// Accept this client's authorization requests only as request objects signed with its
    /// keys (RFC 9101; needs --jwks-file).
    #[arg(long)]
    pub require_signed_request: bool,
    /// Issue this client only DPoP-bound tokens (RFC 9449): token requests without a proof
    /// are refused.
    #[arg(long)]
    pub dpop: bool,
    /// The FAPI 2.0 Security Profile: implies --require-par and --dpop, needs
    /// --auth-method private_key_jwt; codes live at most 60 s.
    #[arg(long)]
    pub fapi2: bool,
    #[arg(long)]
    pub access_token_ttl: Option<i64>,
    #[arg(long)]
    pub refresh_token_ttl: Option<i64>,
    /// Use this secret instead of generating one (for tests and migrations).
    #[arg(long, env = "MPSV_IDP_CLIENT_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Create an account; the password is read from standard input.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        given_name: String,
        #[arg(long)]
        family_name: String,
        #[arg(long)]
        email: Option<String>,
        /// operator or administrator (17 characters and TOTP required).
        #[arg(long)]
        role: String,
        /// The password is an initial one: it must be changed at first login and expires
        /// after `password.initial_password_days`.
        #[arg(long)]
        initial: bool,
    },
}

pub fn run(cli: Cli) -> anyhow::Result<()> {
    crate::telemetry::init_tracing();
    let config = Config::load(cli.config.as_deref())?;
    let workers = config.workers;
    let mut rt = tokio::runtime::Builder::new_multi_thread();
    rt.enable_all();
    if workers > 0 {
        rt.worker_threads(workers);
    }
    let rt = rt.build().context("starting the async runtime")?;
    rt.block_on(async move {
        match cli.command {
            Command::Serve {
                demo,
                i_know_this_is_not_production,
            } => {
                if demo {
                    crate::demo::check_allowed(&config, i_know_this_is_not_production)?;
                }
                serve(config, demo).await
            }
            Command::Demo(d) => demo(config, d).await,
            Command::Migrate => {
                let storage = open_storage(&config).await?;
                println!("migrations applied ({:?})", storage.backend());
                Ok(())
            }
            Command::Keys(k) => keys(config, k).await,
            Command::Client(c) => client(config, c).await,
            Command::Staff(u) => user(config, u).await,
            Command::Registry(r) => registry::run(config, r).await,
            Command::Audit(a) => audit(config, a).await,
        }
    })
}

async fn demo(config: Config, cmd: DemoCommand) -> anyhow::Result<()> {
    let storage = open_storage(&config).await?;
    match cmd {
        DemoCommand::List => {
            let objects = storage.demo_objects().await?;
            if objects.is_empty() {
                println!("no demo data");
            }
            for (kind, id, _) in objects {
                println!("{kind:<13} {id}");
            }
        }
        DemoCommand::Remove => {
            let mut tx = storage.begin_write().await?;
            let n = storage.remove_demo(&mut tx).await?;
            crate::audit::AuditLog::new(storage)
                .append(
                    &mut tx,
                    crate::audit::Record::new(crate::audit::Event::DemoRemoved)
                        .actor(registry::actor())
                        .detail("objects", n),
                )
                .await?;
            tx.commit().await?;
            println!("removed {n} demo objects and everything that referred to them");
        }
    }
    Ok(())
}

async fn audit(config: Config, cmd: AuditCommand) -> anyhow::Result<()> {
    use std::io::Write;
    let storage = open_storage(&config).await?;
    let log = crate::audit::AuditLog::new(storage);
    match cmd {
        AuditCommand::Verify => match log.verify().await? {
            crate::audit::Verification::Intact { records } => {
                println!("audit chain intact: {records} records");
            }
            crate::audit::Verification::Broken { at_id } => {
                eprintln!(
                    "audit chain BROKEN at record {at_id}: it, or the one before it, was \
                     altered, inserted or removed"
                );
                std::process::exit(1);
            }
        },
        AuditCommand::Export { since, output } => {
            let since = since
                .map(|d| crate::domain::date::Date::parse(&d).map(|d| d.start_in_prague()))
                .transpose()
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut out: Box<dyn Write> = match &output {
                Some(p) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(p)
                        .with_context(|| format!("creating {}", p.display()))?,
                )),
                None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
            };
            let mut after = 0;
            loop {
                let page = log.page_after(after, 1000).await?;
                let Some(last) = page.last() else { break };
                after = last.id;
                for r in page.iter().filter(|r| since.is_none_or(|s| r.at >= s)) {
                    writeln!(out, "{}", r.to_json())?;
                }
            }
            out.flush()?;
        }
    }
    Ok(())
}

async fn open_storage(config: &Config) -> anyhow::Result<Storage> {
    let storage = Storage::connect(&config.database_url, 2).await?;
    storage.migrate().await?;
    Ok(storage)
}

async fn serve(config: Config, demo: bool) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(&config.bind)
        .await
        .with_context(|| format!("binding {}", config.bind))?;
    let state = AppState::build(config).await?;
    if demo {
        crate::demo::seed(&state).await?;
    }
    tracing::info!(issuer = %state.config.issuer, bind = %state.config.bind, "mpsv-idp listening");
    app::serve(listener, state, shutdown_signal()).await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}

async fn keys(config: Config, cmd: KeysCommand) -> anyhow::Result<()> {
    if let KeysCommand::GenerateKek = cmd {
        println!("{}", crate::keys::kek::Kek::generate());
        return Ok(());
    }
    let storage = open_storage(&config).await?;
    if let KeysCommand::Import { from } = cmd {
        let keks = config.keys.keks()?.ok_or_else(|| {
            anyhow::anyhow!(
                "importing needs the KEK to seal with: set MPSV_IDP_KEK or keys.kek_file"
            )
        })?;
        let dir = from.unwrap_or_else(|| config.key_dir.clone());
        let report = crate::keys::import_folder(&storage, &keks, &dir).await?;
        for kid in &report.signing_keys {
            println!("imported signing key {kid}");
        }
        for kid in &report.already_there {
            println!("already in the database: {kid}");
        }
        println!(
            "{}",
            if report.data_key {
                "imported data.key"
            } else {
                "data key: none imported (none in the folder, or the same one already stored)"
            }
        );
        let audit = crate::audit::AuditLog::new(storage);
        audit
            .record(
                crate::audit::Record::new(crate::audit::Event::KeysImported)
                    .actor(registry::actor())
                    .subject(dir.display().to_string())
                    .detail("signing_keys", report.signing_keys.join(" "))
                    .detail("data_key", report.data_key),
            )
            .await?;
        return Ok(());
    }
    if let KeysCommand::Reseal = cmd {
        let keks = config.keys.keks()?.ok_or_else(|| {
            anyhow::anyhow!("re-sealing needs the new KEK (MPSV_IDP_KEK) and the old one (MPSV_IDP_KEK_PREVIOUS)")
        })?;
        let n = crate::keys::reseal(&storage, &keks).await?;
        println!(
            "re-sealed {n} stored keys under the KEK {}",
            keks.current.id()
        );
        crate::audit::AuditLog::new(storage)
            .record(
                crate::audit::Record::new(crate::audit::Event::KeysResealed)
                    .actor(registry::actor())
                    .subject(keks.current.id().to_owned())
                    .detail("rows", n as i64),
            )
            .await?;
        return Ok(());
    }
    let (store, _) = app::open_keys(&config, &storage).await?;
    match cmd {
        KeysCommand::GenerateKek | KeysCommand::Import { .. } | KeysCommand::Reseal => {}
        KeysCommand::Rotate { alg, delay } => {
            let algs: Vec<SigningAlg> = match alg {
                Some(a) => vec![a.parse().map_err(|e| anyhow::anyhow!("{e}"))?],
                None => SigningAlg::ALL.to_vec(),
            };
            let delay = delay.unwrap_or(config.keys.rotation_delay);
            let audit = crate::audit::AuditLog::new(storage.clone());
            let services = crate::services::Services {
                storage: &storage,
                audit: &audit,
            };
            let actor = registry::actor();
            for alg in algs {
                let meta = crate::services::keys::rotate(services, &store, &actor, alg, delay)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
                println!(
                    "{alg}: new key {} published now, signs from {} (in {delay} s)",
                    meta.kid, meta.active_from
                );
            }
        }
        KeysCommand::List => {
            println!(
                "{:<45} {:<6} {:<8} {:>12}",
                "kid", "alg", "state", "active_from"
            );
            for (key, state) in store.states(now()) {
                println!(
                    "{:<45} {:<6} {:<8} {:>12}",
                    key.meta.kid,
                    key.meta.alg,
                    state.label(),
                    key.meta.active_from
                );
            }
        }
    }
    Ok(())
}

/// Builds a client registration from command-line arguments (reading `--jwks-file`); returns
/// it with its secret. The rules are `services::clients::build`'s, as for the console and API.
pub fn client_from_args(a: ClientArgs) -> anyhow::Result<(Client, Option<PlainToken>)> {
    let jwks = match &a.jwks_file {
        Some(path) => Some(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        None => None,
    };
    Ok(crate::services::clients::build(
        crate::services::clients::Registration {
            client_id: a.client_id,
            name: a.name,
            redirect_uris: a.redirect_uris,
            post_logout_redirect_uris: a.post_logout_redirect_uris,
            backchannel_logout_uri: a.backchannel_logout_uri,
            auth_method: a.auth_method,
            grant_types: a.grant_types,
            scopes: a.scopes,
            application: a.application,
            id_token_alg: a.id_token_alg,
            access_token_alg: a.access_token_alg,
            jwks,
            require_pkce: !a.no_pkce,
            require_pushed_requests: a.require_par,
            require_signed_request_object: a.require_signed_request,
            dpop_bound_access_tokens: a.dpop,
            fapi2: a.fapi2,
            access_token_ttl: a.access_token_ttl,
            refresh_token_ttl: a.refresh_token_ttl,
            secret: a.secret,
        },
    )?)
}

async fn client(config: Config, cmd: ClientCommand) -> anyhow::Result<()> {
    use crate::audit::{AuditLog, Event, Record};
    use crate::services::{clients, Services, Via};
    let storage = open_storage(&config).await?;
    let audit = AuditLog::new(storage.clone());
    let services = Services {
        storage: &storage,
        audit: &audit,
    };
    let actor = registry::actor();
    let fail = |e: crate::registry::RegistryError| anyhow::anyhow!("{e}");
    match cmd {
        ClientCommand::Disable { ref client_id } | ClientCommand::Enable { ref client_id } => {
            let enable = matches!(cmd, ClientCommand::Enable { .. });
            let mut c = (*storage
                .client(client_id)
                .await?
                .with_context(|| format!("no client {client_id}"))?)
            .clone();
            c.enabled = enable;
            clients::update(services, &actor, &c, Via::Cli)
                .await
                .map_err(fail)?;
            println!(
                "client {client_id} {}",
                if enable {
                    "enabled"
                } else {
                    "disabled (its grants are revoked)"
                }
            );
        }
        ClientCommand::Add(args) => {
            let (client, secret) = client_from_args(args)?;
            clients::create(services, &actor, &client, Via::Cli)
                .await
                .map_err(fail)?;
            println!("client {} registered", client.client_id);
            if let Some(s) = secret {
                println!("client_secret: {}", s.expose());
                println!("(shown once; only its hash is stored)");
            }
        }
        ClientCommand::List => {
            for c in storage.clients().await? {
                println!(
                    "{}\t{}\t{}\t{}\t{}",
                    c.client_id,
                    c.auth_method,
                    c.application.map(|a| a.as_str()).unwrap_or("-"),
                    if c.enabled { "enabled" } else { "disabled" },
                    c.redirect_uris
                        .iter()
                        .map(|u| u.as_str())
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
        }
        ClientCommand::Remove { client_id } => {
            if !storage.delete_client(&client_id).await? {
                bail!("no client {client_id}");
            }
            audit
                .record(
                    Record::new(Event::ClientChanged)
                        .actor(actor)
                        .subject(client_id.clone())
                        .detail("removed", true),
                )
                .await?;
            println!("client {client_id} removed");
        }
        ClientCommand::RotateSecret { client_id } => {
            let secret = clients::rotate_secret(services, &actor, &client_id, Via::Cli)
                .await
                .map_err(fail)?;
            println!("client_secret: {}", secret.expose());
        }
    }
    Ok(())
}

async fn user(config: Config, cmd: UserCommand) -> anyhow::Result<()> {
    let storage = open_storage(&config).await?;
    match cmd {
        UserCommand::Add {
            username,
            given_name,
            family_name,
            email,
            role,
            initial,
        } => {
            let policy = &config.password;
            let first = services::staff::FirstPassword::Given {
                initial_until: initial.then(|| policy.initial_password_expires_at(now())),
            };
            let new = services::staff::check(
                &services::staff::NewStaff {
                    username,
                    given_name: given_name.clone(),
                    family_name: family_name.clone(),
                    email,
                    role,
                },
                first,
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']).to_owned();
            if let Err(violations) = policy.check(&Candidate {
                password: &password,
                username: new.username().as_str(),
                given_name: &given_name,
                family_name: &family_name,
                privileged: new.role().privileged(),
            }) {
                let texts = crate::pages::i18n::Lang::En.texts();
                let reasons: Vec<String> = violations
                    .iter()
                    .map(|v| v.fill(texts.get(v.message_key())))
                    .collect();
                bail!("the password cannot be used: {}", reasons.join(" "));
            }
            let hash = crate::password::hash_now(&password)?;
            drop(SecretString::from(password));
            let audit = crate::audit::AuditLog::new(storage.clone());
            let services = services::Services {
                storage: &storage,
                audit: &audit,
            };
            let (account, _) =
                services::staff::create(services, &registry::actor(), new, hash, None)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            println!("account {} created (sub {})", account.username, account.sub);
        }
    }
    Ok(())
}
