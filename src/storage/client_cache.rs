//! A short-lived read cache of client registrations. The token endpoint looks the client up on
//! every request; going to the database each time (for SQLite, a hop to its worker thread)
//! costs more than signing an ES256 token. Entries live `ttl` seconds, so a change made by
//! another node or by the CLI is seen everywhere within that time; changes made through this
//! node's storage layer take effect at once. Unknown client ids are not cached (no memory for
//! an attacker to fill), and the cache is bounded.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use crate::domain::client::Client;

const MAX_ENTRIES: usize = 10_000;

/// Client id → (when loaded, registration).
type Entries = HashMap<String, (Instant, Arc<Client>)>;

#[derive(Clone)]
pub struct ClientCache {
    ttl: Duration,
    entries: Arc<RwLock<Entries>>,
}

impl ClientCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    pub fn get(&self, client_id: &str) -> Option<Arc<Client>> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.read().ok()?;
        let (at, client) = entries.get(client_id)?;
        (at.elapsed() < self.ttl).then(|| Arc::clone(client))
    }

    pub fn put(&self, client: Arc<Client>) {
        if self.ttl.is_zero() {
            return;
        }
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                entries.clear();
            }
            entries.insert(
                client.client_id.as_str().to_owned(),
                (Instant::now(), client),
            );
        }
    }

    pub fn forget(&self, client_id: &str) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(client_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::{AuthMethod, ClientId, SigningAlg};
    use crate::domain::scope::Scopes;

    fn client(id: &str) -> Arc<Client> {
        Arc::new(Client {
            client_id: ClientId::parse(id).unwrap(),
            name: id.into(),
            secret_hash: None,
            auth_method: AuthMethod::None,
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
            grant_types: vec![],
            scopes: Scopes::default(),
            id_token_alg: SigningAlg::RS256,
            access_token_alg: SigningAlg::RS256,
            jwks: None,
            application: None,
            require_pkce: true,
            require_pushed_requests: false,
            require_signed_request_object: false,
            dpop_bound_access_tokens: false,
            fapi2: false,
            access_token_ttl: None,
            refresh_token_ttl: None,
            enabled: true,
        })
    }

    #[test]
    fn entries_expire_and_can_be_forgotten() {
        let c = ClientCache::new(Duration::from_secs(60));
        c.put(client("a"));
        assert!(c.get("a").is_some());
        c.forget("a");
        assert!(c.get("a").is_none());
        let off = ClientCache::new(Duration::ZERO);
        off.put(client("a"));
        assert!(off.get("a").is_none());
        let short = ClientCache::new(Duration::from_nanos(1));
        short.put(client("b"));
        std::thread::sleep(Duration::from_millis(1));
        assert!(short.get("b").is_none());
    }
}
