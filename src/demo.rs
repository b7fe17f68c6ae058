//! `serve --demo`: the MPSV demo data set, so a newcomer can try every rule by hand —
//! organisations of each kind, statutory representatives, a delegate, plain employees, a
//! person in two organisations, a rodina-only user, the two application clients and a generic
//! demo client. Everything is created through `registry` (consents first, as the rules
//! demand); the demo people then get one known password instead of their letters' random ones.

use crate::app::AppState;
use crate::cli::{client_from_args, ClientArgs};
use crate::domain::account::{Account, Role, Username};
use crate::domain::client::Application;
use crate::domain::date::Date;
use crate::domain::id::Subject;
use crate::domain::organisation::{Ico, Organisation, OrganisationKind, Seat};
use crate::domain::person::{ConsentForm, Person};
use crate::registry::{self, consents::Consenter};
use crate::secrets::{now, PlainToken};
use crate::storage::demo::DemoKind;

pub const DEMO_USER: &str = "demo.uzivatel";
pub const DEMO_PASSWORD: &str = "Demo-heslo-2026";
pub const DEMO_CLIENT: &str = "demo-rp";
/// Staff of the demo: an operator and an administrator, with this password and this TOTP
/// secret (add it to an authenticator app, or compute codes from it) — demo only.
pub const DEMO_STAFF_PASSWORD: &str = "Demo-konzole-heslo-2026";
pub const DEMO_TOTP_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";
const STAFF: &[(&str, &str, &str, Role)] = &[
    ("operator.demo", "Olga", "Operátorová", Role::Operator),
    ("spravce.demo", "Adam", "Správce", Role::Administrator),
];
const ACTOR: &str = "demo";

/// IČO, name, legal form, street, city, postcode, provider, NNO in family support.
type Org = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    bool,
    bool,
);
const ORGANISATIONS: &[Org] = &[
    (
        "27712346",
        "Domov Slunce, o. p. s.",
        "obecně prospěšná společnost",
        "Lipová 12",
        "Brno",
        "602 00",
        true,
        false,
    ),
    (
        "26543214",
        "Šťastná rodina, z. ú.",
        "zapsaný ústav",
        "Náměstí Míru 5",
        "Ústí nad Labem",
        "400 01",
        true,
        true,
    ),
    (
        "26910021",
        "Rodinné centrum Klubíčko, z. s.",
        "spolek",
        "Husova 8",
        "Olomouc",
        "779 00",
        false,
        true,
    ),
];

/// Username, given name, family name, consents (IČO, form), statutory at (IČO).
type DemoPerson = (
    &'static str,
    &'static str,
    &'static str,
    &'static [(&'static str, Application)],
    &'static [&'static str],
);
const PEOPLE: &[DemoPerson] = &[
    (
        DEMO_USER,
        "Jana",
        "Nováková",
        &[("27712346", Application::Poskytovatel)],
        &[],
    ),
    (
        "petr.dvorak",
        "Petr",
        "Dvořák",
        &[("27712346", Application::Poskytovatel)],
        &["27712346"],
    ),
    (
        "eva.cerna",
        "Eva",
        "Černá",
        &[("27712346", Application::Poskytovatel)],
        &[],
    ),
    (
        "tomas.kral",
        "Tomáš",
        "Král",
        &[("27712346", Application::Poskytovatel)],
        &[],
    ),
    (
        "marie.svobodova",
        "Marie",
        "Svobodová",
        &[("26543214", Application::Poskytovatel)],
        &["26543214"],
    ),
    (
        "lukas.prochazka",
        "Lukáš",
        "Procházka",
        &[("26543214", Application::Poskytovatel)],
        &[],
    ),
    (
        "alena.vesela",
        "Alena",
        "Veselá",
        &[("26910021", Application::Rodina)],
        &["26910021"],
    ),
    (
        "jan.horak",
        "Jan",
        "Horák",
        &[
            ("27712346", Application::Poskytovatel),
            ("26543214", Application::Poskytovatel),
        ],
        &[],
    ),
];

/// Who may try what (printed at start).
const GUIDE: &str = "  demo.uzivatel     Domov Slunce (poskytovatel only): employee, no submit; refused at rodina
  petr.dvorak       Domov Slunce: statutory representative (submit), delegated submit to tomas.kral
  eva.cerna         Domov Slunce: employee, no submit
  tomas.kral        Domov Slunce: delegate of petr.dvorak (submit via delegation)
  marie.svobodova   Šťastná rodina (provider + NNO in family support): statutory; poskytovatel and rodina
  lukas.prochazka   Šťastná rodina: employee; rodina through the poskytovatel consent (NNO rule)
  alena.vesela      Rodinné centrum Klubíčko (NNO only): rodina consent, statutory; refused at poskytovatel
  jan.horak         Domov Slunce and Šťastná rodina: chooses the organisation at login";

/// `serve --demo` only where its public passwords cannot hurt: a loopback issuer, or an
/// operator who says in so many words that this is not production.
pub fn check_allowed(config: &crate::config::Config, not_production: bool) -> anyhow::Result<()> {
    if config.issuer_is_loopback() || not_production {
        return Ok(());
    }
    anyhow::bail!(
        "--demo refused: the issuer {} is not a loopback address, and the demo creates MPSV \
         staff whose password and TOTP secret are public. On a shared test machine that is not \
         production, add --i-know-this-is-not-production.",
        config.issuer
    )
}

pub async fn seed(state: &AppState) -> anyhow::Result<()> {
    let storage = &state.storage;
    if storage.account_by_username(DEMO_USER).await?.is_none() {
        if let Some(ico) = real_organisation_in_the_way(state).await? {
            // The demo's people would join a real organisation: leave the register alone.
            tracing::warn!(%ico, "an organisation with a demo IČO exists and is not demo data; demo register not created");
        } else {
            seed_register(state).await?;
        }
    }
    let mut secrets = Vec::new();
    for (client_id, name, app, port) in [
        (DEMO_CLIENT, "Demo RP", None, 8081),
        (
            "oksluzby-poskytovatel",
            "OKslužby – poskytovatel",
            Some("poskytovatel"),
            8091,
        ),
        ("oksluzby-rodina", "OKslužby – rodina", Some("rodina"), 8092),
    ] {
        // A fresh secret at every demo start, so it can be printed.
        let secret = PlainToken::generate();
        // A real registration with the same id is never touched (issue 11.3).
        if storage.client(client_id).await?.is_some()
            && !storage.is_demo(DemoKind::Client, client_id).await?
        {
            tracing::warn!(
                client_id,
                "a client with a demo id exists and is not demo data; left as it is"
            );
            continue;
        }
        let (client, _) = client_from_args(ClientArgs {
            client_id: client_id.into(),
            name: name.into(),
            redirect_uris: vec![format!("http://127.0.0.1:{port}/callback")],
            post_logout_redirect_uris: vec![format!("http://127.0.0.1:{port}/")],
            backchannel_logout_uri: app
                .map(|_| format!("http://127.0.0.1:{port}/backchannel-logout")),
            auth_method: "client_secret_basic".into(),
            grant_types: vec![],
            scopes: if app.is_some() {
                ["openid", "profile", "email", "mpsv", "organisation"]
                    .map(String::from)
                    .to_vec()
            } else {
                vec![]
            },
            application: app.map(String::from),
            id_token_alg: "RS256".into(),
            access_token_alg: "RS256".into(),
            jwks_file: None,
            no_pkce: false,
            // The OKslužby clients follow the profile docs/integration.md recommends (the
            // example applications push their requests and bind their tokens); the plain demo
            // RP keeps the plain code flow to try by hand.
            require_par: app.is_some(),
            require_signed_request: false,
            dpop: app.is_some(),
            fapi2: false,
            access_token_ttl: None,
            refresh_token_ttl: None,
            secret: Some(secret.expose().to_owned()),
        })?;
        if !storage.update_client(&client).await? {
            storage.insert_client(&client).await?;
        }
        storage.mark_demo(DemoKind::Client, client_id).await?;
        secrets.push((client_id, port, secret));
    }
    let issuer = &state.config.issuer;
    let mut clients = String::new();
    for (id, port, secret) in &secrets {
        clients.push_str(&format!(
            "  {id:<22} secret {}  redirect_uri http://127.0.0.1:{port}/callback\n",
            secret.expose()
        ));
    }
    println!(
        "\nmpsv-idp demo\n\
         issuer:        {issuer}\n\
         discovery:     {issuer}/.well-known/openid-configuration\n\
         clients:\n{clients}\
         people (password {DEMO_PASSWORD} for all):\n{GUIDE}\n\
         staff (console {issuer}/admin): operator.demo and spravce.demo / {DEMO_STAFF_PASSWORD},\n\
                        TOTP secret {DEMO_TOTP_SECRET}\n\
         user:          {DEMO_USER} / {DEMO_PASSWORD}\n\
         try:           {issuer}/authorize?client_id={DEMO_CLIENT}&response_type=code&scope=openid%20profile&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256\n"
    );
    Ok(())
}

/// The IČO of a demo organisation that exists without being demo data, if any.
async fn real_organisation_in_the_way(state: &AppState) -> anyhow::Result<Option<String>> {
    for &(ico, ..) in ORGANISATIONS {
        let parsed = Ico::parse(ico).map_err(|e| anyhow::anyhow!("{e}"))?;
        if let Some(o) = state.storage.organisation_by_ico(&parsed).await? {
            if !state
                .storage
                .is_demo(DemoKind::Organisation, o.id.as_str())
                .await?
            {
                return Ok(Some(ico.to_owned()));
            }
        }
    }
    Ok(None)
}

async fn seed_register(state: &AppState) -> anyhow::Result<()> {
    let bad = |e: crate::domain::ParseError| anyhow::anyhow!("{e}");
    let mut org_ids = Vec::new();
    for &(ico, name, form, street, city, postcode, provider, nno) in ORGANISATIONS {
        let ico = Ico::parse(ico).map_err(bad)?;
        let o = match state.storage.organisation_by_ico(&ico).await? {
            Some(o) => o,
            None => {
                let o = Organisation::new(
                    ico,
                    name,
                    form,
                    Seat::parse(street, city, postcode).map_err(bad)?,
                    OrganisationKind {
                        social_service_provider: provider,
                        nno_family_support: nno,
                    },
                )
                .map_err(bad)?;
                registry::organisations::create(state, ACTOR, &o).await?;
                state
                    .storage
                    .mark_demo(DemoKind::Organisation, o.id.as_str())
                    .await?;
                o
            }
        };
        org_ids.push((o.ico.as_str().to_owned(), o.id));
    }
    let org = |ico: &str| {
        org_ids
            .iter()
            .find(|(i, _)| i == ico)
            .map(|(_, id)| id.clone())
            .ok_or_else(|| anyhow::anyhow!("demo organisation {ico}"))
    };
    let today = Date::in_prague(now());
    let paper =
        ConsentForm::new(today.add_days(-14), today.add_days(-7), "MPSV-DEMO/2026").map_err(bad)?;
    let hash = crate::password::hash_now(DEMO_PASSWORD)?;
    let mut subs = Vec::new();
    for &(username, given, family, consents, statutory) in PEOPLE {
        let email = format!("{username}@example.cz");
        let person = Person::new(given, family, Some(&email)).map_err(bad)?;
        let mut sub: Option<Subject> = None;
        for &(ico, form) in consents {
            let subject = match &sub {
                Some(s) => Consenter::Existing(s),
                None => Consenter::New(&person),
            };
            let r =
                registry::consents::record(state, ACTOR, subject, &org(ico)?, form, &paper).await?;
            sub = Some(r.person_sub);
        }
        let sub = sub.ok_or_else(|| anyhow::anyhow!("demo person without consent"))?;
        state
            .storage
            .mark_demo(DemoKind::Person, sub.as_str())
            .await?;
        let first_org = org(consents[0].0)?;
        let username = Username::parse(username).map_err(bad)?;
        registry::accounts::create(state, ACTOR, &sub, &first_org, Some(username)).await?;
        // A known password instead of the letter's random one, already changed.
        state
            .storage
            .set_password(&sub, &hash, now(), false, None)
            .await?;
        for ico in statutory {
            registry::statutory::start(state, ACTOR, &sub, &org(ico)?, now() - 86_400).await?;
        }
        subs.push((username_of(&sub, state).await?, sub));
    }
    let who = |u: &str| {
        subs.iter()
            .find(|(n, _)| n == u)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| anyhow::anyhow!("demo person {u}"))
    };
    registry::delegations::grant(
        state,
        ACTOR,
        &org("27712346")?,
        &who("petr.dvorak")?,
        &who("tomas.kral")?,
    )
    .await?;
    // MPSV staff for the console, with a known TOTP secret (demo only).
    let staff_hash = crate::password::hash_now(DEMO_STAFF_PASSWORD)?;
    let sealed = state.data_key.seal(DEMO_TOTP_SECRET.as_bytes());
    for &(username, given, family, role) in STAFF {
        let mut a = Account::new(
            &Username::parse(username).map_err(bad)?,
            given,
            family,
            Some(format!("{username}@mpsv.example.cz")),
            staff_hash.clone(),
            now(),
        );
        a.role = role;
        state.storage.insert_account(&a).await?;
        state
            .storage
            .mark_demo(DemoKind::Person, a.sub.as_str())
            .await?;
        let mut tx = state.storage.begin_write().await?;
        state
            .storage
            .enrol_totp(&mut tx, &a.sub, &sealed, None, &[])
            .await?;
        tx.commit().await?;
    }
    Ok(())
}

async fn username_of(sub: &Subject, state: &AppState) -> anyhow::Result<String> {
    Ok(state
        .storage
        .account(sub)
        .await?
        .map(|a| a.username)
        .unwrap_or_default())
}
