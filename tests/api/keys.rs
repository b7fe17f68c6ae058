//! Issue 12.1: signing keys and the data key in the database, sealed with a KEK from the
//! configuration — nodes starting together create one key per algorithm, a node with
//! another KEK is refused, a KEK rotation re-seals, and a key folder is imported.

use mpsv_idp::app::AppState;
use mpsv_idp::config::{Config, Redacted};
use mpsv_idp::keys::kek::{Kek, Keks};
use serde_json::Value;

use crate::db_test;
use crate::helpers::*;

db_test!(
    nodes_starting_together_on_an_empty_database_create_one_key_each,
    a_node_with_another_kek_is_refused_and_the_database_holds_no_clear_key,
    a_kek_rotation_reseals_the_stored_keys,
    a_node_without_a_kek_is_refused_where_the_database_keeps_sealed_keys,
    a_key_planted_or_altered_in_the_database_is_not_used,
    a_key_folder_is_imported_and_its_keys_and_data_key_go_on_working
);

fn kids(jwks: &Value) -> Vec<String> {
    let mut k: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    k.sort();
    k
}

fn error_text(r: anyhow::Result<AppState>) -> String {
    match r {
        Ok(_) => panic!("the node started"),
        Err(e) => format!("{e:#}"),
    }
}

async fn nodes_starting_together_on_an_empty_database_create_one_key_each(db: Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = fresh_database(db, dir.path()).await;
    let config = |i: usize| {
        let mut c = Config {
            database_url: url.clone(),
            // Each node its own (never created) folder: the keys can only come from the database.
            key_dir: dir.path().join(format!("keys-{i}")),
            db_max_connections: 2,
            ..Config::default()
        };
        c.mail.folder = dir.path().join("mail");
        with_kek(&mut c, TEST_KEK);
        c
    };
    let starting: Vec<_> = (0..4)
        .map(|i| tokio::spawn(AppState::build(config(i))))
        .collect();
    let mut nodes = Vec::new();
    for s in starting {
        nodes.push(s.await.unwrap().expect("node"));
    }
    let first = kids(&nodes[0].keys.jwks());
    assert_eq!(first.len(), 3, "one RS256, ES256 and EdDSA key: {first:?}");
    for n in &nodes {
        assert_eq!(kids(&n.keys.jwks()), first, "every node the same keys");
        assert!(n.keys.in_database());
    }
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM signing_keys")
        .fetch_one(nodes[0].storage.pool())
        .await
        .unwrap();
    assert_eq!(count, 3);
    // A value sealed by one node's data key opens at every other node.
    let sealed = nodes[1].data_key.seal(b"secret");
    assert!(nodes.iter().all(|n| n.data_key.open(&sealed).is_ok()));
    for i in 0..4 {
        assert!(
            !dir.path().join(format!("keys-{i}")).exists(),
            "no key folder"
        );
    }
}

async fn a_node_with_another_kek_is_refused_and_the_database_holds_no_clear_key(db: Db) {
    let a = spawn_app_with(db, |c| with_kek(c, TEST_KEK)).await;
    let mut other = a.state.config.clone();
    with_kek(&mut other, &Kek::generate());
    let text = error_text(AppState::build(other).await);
    assert!(
        text.contains("sealed with the KEK") && text.contains("MPSV_IDP_KEK"),
        "{text}"
    );
    // Neither private key nor data key is stored in the clear.
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT private_key, public_jwk FROM signing_keys")
            .fetch_all(a.state.storage.pool())
            .await
            .unwrap();
    assert_eq!(rows.len(), 3);
    for (private, public) in rows {
        assert!(private.starts_with("k1.") && !private.contains("PRIVATE"));
        let jwk: Value = serde_json::from_str(&public).unwrap();
        assert!(jwk.get("d").is_none(), "the public part only: {jwk}");
    }
    let (sealed,): (String,) = sqlx::query_as("SELECT sealed FROM data_keys")
        .fetch_one(a.state.storage.pool())
        .await
        .unwrap();
    assert!(sealed.starts_with("k1."));
    // A malformed KEK is a configuration error, not a new key.
    let mut bad = a.state.config.clone();
    with_kek(&mut bad, "too-short");
    assert!(error_text(AppState::build(bad).await).contains("generate-kek"));
}

async fn a_kek_rotation_reseals_the_stored_keys(db: Db) {
    let a = spawn_app_with(db, |c| with_kek(c, TEST_KEK)).await;
    let before = kids(&a.state.keys.jwks());
    let sealed_totp = a.state.data_key.seal(b"totp seed");
    let new_kek = Kek::generate();
    // Step 1 of docs/keys.md: nodes start with the new KEK and the old one as previous; they
    // open what the old one sealed and re-seal nothing yet, so a node that still has only the
    // old KEK can start (a rollback) while the rollout is under way.
    let b = spawn_node_with(&a, |c| {
        with_kek(c, &new_kek);
        c.keys.previous_keks = vec![Redacted(TEST_KEK.into())];
    })
    .await;
    assert_eq!(kids(&b.state.keys.jwks()), before);
    assert_eq!(b.state.data_key.open(&sealed_totp).unwrap(), b"totp seed");
    let mut old = a.state.config.clone();
    with_kek(&mut old, TEST_KEK);
    AppState::build(old.clone())
        .await
        .expect("an old node still starts during the rollout");
    // Step 2: `mpsv-idp keys reseal` once every node has the new KEK.
    let keks = Keks {
        current: Kek::parse(&new_kek, "t").unwrap(),
        previous: vec![Kek::parse(TEST_KEK, "t").unwrap()],
    };
    assert_eq!(
        mpsv_idp::keys::reseal(&a.state.storage, &keks)
            .await
            .unwrap(),
        4
    );
    assert_eq!(
        mpsv_idp::keys::reseal(&a.state.storage, &keks)
            .await
            .unwrap(),
        0,
        "done once"
    );
    let new_id = keks.current.id().to_owned();
    let ids: Vec<(String,)> =
        sqlx::query_as("SELECT kek_id FROM signing_keys UNION ALL SELECT kek_id FROM data_keys")
            .fetch_all(a.state.storage.pool())
            .await
            .unwrap();
    assert_eq!(ids.len(), 4);
    assert!(
        ids.iter().all(|(id,)| *id == new_id),
        "re-sealed under the new KEK"
    );
    // Step 2: the old KEK is dropped; a node with the new one alone signs as before.
    let c = spawn_node_with(&a, |c| with_kek(c, &new_kek)).await;
    let jws = c
        .state
        .keys
        .sign(mpsv_idp::domain::client::SigningAlg::ES256, "JWT", b"{}")
        .unwrap();
    assert!(a.state.keys.verify(&jws).is_some(), "the same keys");
    // …and a node still given only the old KEK is refused.
    assert!(error_text(AppState::build(old).await).contains("sealed with the KEK"));
    // The node that was running with the old KEK keeps the keys it loaded and still signs.
    a.state.keys.reload().await.unwrap();
    assert!(a
        .state
        .keys
        .sign(mpsv_idp::domain::client::SigningAlg::RS256, "JWT", b"{}")
        .is_ok());
}

async fn a_key_folder_is_imported_and_its_keys_and_data_key_go_on_working(db: Db) {
    // A single node with a key folder, as before issue 12.
    let a = spawn_app(db).await;
    let folder = a.state.config.key_dir.clone();
    let folder_kids = kids(&a.state.keys.jwks());
    let sealed_totp = a.state.data_key.seal(b"totp seed");
    let id_token = a
        .state
        .keys
        .sign(mpsv_idp::domain::client::SigningAlg::RS256, "JWT", b"{}")
        .unwrap();
    let mut with_db_keys = a.state.config.clone();
    with_kek(&mut with_db_keys, TEST_KEK);
    // Starting with a KEK before the import is refused: a new data key would orphan what
    // the folder's data key sealed.
    let text = error_text(AppState::build(with_db_keys.clone()).await);
    assert!(text.contains("keys import"), "{text}");
    let keks = Keks {
        current: Kek::parse(TEST_KEK, "test").unwrap(),
        previous: vec![],
    };
    let report = mpsv_idp::keys::import_folder(&a.state.storage, &keks, &folder)
        .await
        .unwrap();
    assert_eq!(report.signing_keys.len(), 3);
    assert!(report.data_key);
    // Idempotent.
    let again = mpsv_idp::keys::import_folder(&a.state.storage, &keks, &folder)
        .await
        .unwrap();
    assert!(again.signing_keys.is_empty() && !again.data_key);
    assert_eq!(again.already_there.len(), 3);
    // The node now keeps its keys in the database: the same kids, the same data key.
    with_db_keys.key_dir = folder.join("unused");
    let b = AppState::build(with_db_keys)
        .await
        .expect("node with a KEK");
    assert_eq!(kids(&b.keys.jwks()), folder_kids);
    assert!(b.keys.verify(&id_token).is_some());
    assert_eq!(b.data_key.open(&sealed_totp).unwrap(), b"totp seed");
    // Another folder's data key is refused rather than stored over the first.
    let stranger = tempfile::tempdir().unwrap();
    mpsv_idp::keys::sealing::DataKey::load_or_create(stranger.path()).unwrap();
    let err = mpsv_idp::keys::import_folder(&a.state.storage, &keks, stranger.path())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("another data key"), "{err}");
}

async fn a_node_without_a_kek_is_refused_where_the_database_keeps_sealed_keys(db: Db) {
    let a = spawn_app_with(db, |c| with_kek(c, TEST_KEK)).await;
    // The KEK's secret did not arrive: the node must not make a key folder of its own.
    let mut no_kek = a.state.config.clone();
    no_kek.keys.kek = None;
    no_kek.key_dir = no_kek.key_dir.join("fresh-folder");
    let text = error_text(AppState::build(no_kek.clone()).await);
    assert!(text.contains("sealed with a KEK"), "{text}");
    assert!(!no_kek.key_dir.exists());
}

async fn a_key_planted_or_altered_in_the_database_is_not_used(db: Db) {
    let a = spawn_app_with(db, |c| with_kek(c, TEST_KEK)).await;
    let before = kids(&a.state.keys.jwks());
    let pool = a.state.storage.pool();
    // Somebody who can write to the database, but has no KEK, adds a key of their own…
    let stranger = tempfile::tempdir().unwrap();
    let theirs = mpsv_idp::keys::KeyStore::open(stranger.path(), 300).unwrap();
    let planted = theirs
        .current(mpsv_idp::domain::client::SigningAlg::ES256)
        .unwrap();
    sqlx::query(
        "INSERT INTO signing_keys (kid, alg, generation, created_at, active_from, public_jwk, \
         private_key, kek_id) VALUES ($1, 'ES256', 99, 0, 0, $2, 'k1.AAAA', 'someone-elses')",
    )
    .bind(&planted.meta.kid)
    .bind(serde_json::Value::Object(planted.public_jwk.clone()).to_string())
    .execute(pool)
    .await
    .unwrap();
    // …and moves a real key's activation into the future, hoping to stop it signing.
    let (kid,): (String,) =
        sqlx::query_as("SELECT kid FROM signing_keys WHERE alg = 'RS256' LIMIT 1")
            .fetch_one(pool)
            .await
            .unwrap();
    sqlx::query("UPDATE signing_keys SET active_from = active_from + 3600 WHERE kid = $1")
        .bind(&kid)
        .execute(pool)
        .await
        .unwrap();
    let b = spawn_node(&a).await;
    let published = kids(&b.state.keys.jwks());
    assert!(
        !published.contains(&planted.meta.kid),
        "the planted key is not published"
    );
    let token = theirs
        .sign(mpsv_idp::domain::client::SigningAlg::ES256, "JWT", b"{}")
        .unwrap();
    assert!(b.state.keys.verify(&token).is_none(), "nor trusted");
    assert!(!published.contains(&kid), "the altered row does not open");
    assert_eq!(published.len(), before.len() - 1);
}
