//! `serve --demo`: a demo client and a demo account, so a newcomer can try the flow by hand.
//! (The MPSV demo data set — organisations, consents, representatives — comes with the
//! domain issue.)

use crate::app::AppState;
use crate::cli::{client_from_args, ClientArgs};
use crate::domain::account::{Account, Username};
use crate::secrets::PlainToken;

pub const DEMO_USER: &str = "demo.uzivatel";
pub const DEMO_PASSWORD: &str = "Demo-heslo-2026";
pub const DEMO_CLIENT: &str = "demo-rp";

pub async fn seed(state: &AppState) -> anyhow::Result<()> {
    let storage = &state.storage;
    if storage.account_by_username(DEMO_USER).await?.is_none() {
        let username = Username::parse(DEMO_USER).map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut account = Account::new(
            &username,
            "Jana",
            "Nováková",
            Some("jana.novakova@example.cz".into()),
            crate::password::hash_now(DEMO_PASSWORD)?,
            crate::secrets::now(),
        );
        account.email_verified = true;
        storage.insert_account(&account).await?;
    }
    // A fresh secret at every demo start, so it can be printed.
    let secret = PlainToken::generate();
    let (client, _) = client_from_args(ClientArgs {
        client_id: DEMO_CLIENT.into(),
        name: "Demo RP".into(),
        redirect_uris: vec!["http://127.0.0.1:8081/callback".into()],
        post_logout_redirect_uris: vec!["http://127.0.0.1:8081/".into()],
        backchannel_logout_uri: None,
        auth_method: "client_secret_basic".into(),
        grant_types: vec![],
        scopes: vec![],
        application: None,
        id_token_alg: "RS256".into(),
        access_token_alg: "RS256".into(),
        jwks_file: None,
        no_pkce: false,
        access_token_ttl: None,
        refresh_token_ttl: None,
        secret: Some(secret.expose().to_owned()),
    })?;
    if !storage.update_client(&client).await? {
        storage.insert_client(&client).await?;
    }
    let issuer = &state.config.issuer;
    println!(
        "\nmpsv-idp demo\n\
         issuer:        {issuer}\n\
         discovery:     {issuer}/.well-known/openid-configuration\n\
         client_id:     {DEMO_CLIENT}\n\
         client_secret: {}\n\
         redirect_uri:  http://127.0.0.1:8081/callback\n\
         user:          {DEMO_USER} / {DEMO_PASSWORD}\n\
         try:           {issuer}/authorize?client_id={DEMO_CLIENT}&response_type=code&scope=openid%20profile&redirect_uri=http%3A%2F%2F127.0.0.1%3A8081%2Fcallback&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256\n",
        secret.expose()
    );
    Ok(())
}
