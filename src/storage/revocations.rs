//! When a node may reuse an earlier "this access token is not revoked" answer (issue 16).
//!
//! Every revocation of a JWT access token (RFC 7009 at `/revoke`) moves a counter, the
//! *epoch*. A node remembers a token's "not revoked" check together with the epoch it read
//! before asking the database, and reuses the answer only while the epoch is unchanged: a
//! revocation made on this node is seen at once (the epoch moves as soon as the row is
//! written), one made on another node as soon as PostgreSQL delivers its notification.
//!
//! On PostgreSQL a trigger (migration 0021) sends `NOTIFY mpsv_idp_revocations` with the
//! token's `jti` in the transaction that inserts into `revoked_tokens`: PostgreSQL hands the
//! notification to every listening connection when the revocation commits, whichever node or
//! process made it. Each node listens on a connection of its own
//! ([`Storage::listen_for_revocations`]), and the node that revokes answers only once its own
//! listener has heard that very notification (at most a second): PostgreSQL queued it for
//! every listening connection at the commit, and each node sees it as its backend delivers it
//! (milliseconds). While a node's listener is down it
//! reuses nothing (a notification may have been missed), and every (re)connection moves the
//! epoch so that nothing remembered from before counts. Without the listener (the CLI) a
//! PostgreSQL node reuses nothing at all.
//!
//! SQLite has no notifications. A SQLite deployment is one node, but tests and evaluations
//! run several processes on one file, so every revocation also appends a byte to a file
//! beside the database (`<database>.revocations`) and each node looks at that file's size and
//! modification time (one `stat`) before it reuses an answer: a change moves its epoch. A
//! revoked token stays revoked, so that answer needs no epoch; every remembered answer also
//! ages out after the cache's lifetime (`client_cache_seconds`).

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use super::{Backend, Storage};

/// The PostgreSQL channel of revocations (migration 0021 notifies it).
pub const CHANNEL: &str = "mpsv_idp_revocations";

/// The revocation epoch of this node (cheap to clone, shared by every clone of [`Storage`]).
#[derive(Clone)]
pub struct Revocations(Arc<Inner>);

struct Inner {
    epoch: AtomicU64,
    /// Does this node hear every revocation made elsewhere? Always on SQLite (one node); on
    /// PostgreSQL only while the listener's connection is up.
    hearing: AtomicBool,
    /// SQLite: the file other processes touch on revocation, and what it last looked like.
    signal: Option<(PathBuf, Mutex<Signal>)>,
    /// PostgreSQL: notifications come back to the revoking node's listener.
    notified: bool,
    /// PostgreSQL: revocations of this node waiting to hear their own notification, by `jti`.
    waiting: Mutex<HashMap<String, Vec<tokio::sync::oneshot::Sender<()>>>>,
}

/// The signal file's length and modification time (`None`: not there yet).
type Signal = Option<(u64, SystemTime)>;

/// Past this length a revocation starts the signal file over (the change is still seen).
const SIGNAL_MAX: u64 = 64 * 1024;

fn look(path: &Path) -> Signal {
    let m = std::fs::metadata(path).ok()?;
    Some((m.len(), m.modified().ok()?))
}

impl Revocations {
    /// `sqlite_file`: the database file of a SQLite backend (none in memory).
    pub fn new(backend: Backend, sqlite_file: Option<&Path>) -> Self {
        let signal = sqlite_file.map(|f| {
            let mut name = f.as_os_str().to_owned();
            name.push(".revocations");
            let path = PathBuf::from(name);
            let seen = look(&path);
            (path, Mutex::new(seen))
        });
        Self(Arc::new(Inner {
            epoch: AtomicU64::new(0),
            hearing: AtomicBool::new(backend == Backend::Sqlite),
            signal,
            notified: backend == Backend::Postgres,
            waiting: Mutex::new(HashMap::new()),
        }))
    }

    /// PostgreSQL, before revoking `jti`: a receiver that fires when the listener hears the
    /// revocation's notification (`None` while not listening: nothing is reused then).
    fn expect(&self, jti: &str) -> Option<tokio::sync::oneshot::Receiver<()>> {
        if !self.0.notified || !self.0.hearing.load(Ordering::SeqCst) {
            return None;
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut waiting = self.0.waiting.lock().ok()?;
        waiting.entry(jti.to_owned()).or_default().push(tx);
        Some(rx)
    }

    /// The listener heard the revocation of `jti`.
    fn heard(&self, jti: &str) {
        self.moved();
        if let Some(senders) = self.0.waiting.lock().ok().and_then(|mut w| w.remove(jti)) {
            for s in senders {
                let _ = s.send(());
            }
        }
    }

    fn forget(&self, jti: &str) {
        if let Ok(mut w) = self.0.waiting.lock() {
            w.remove(jti);
        }
    }

    /// SQLite: has another process revoked something since we last looked?
    fn look_for_others(&self) {
        let Some((path, seen)) = &self.0.signal else {
            return;
        };
        let now = look(path);
        let Ok(mut seen) = seen.lock() else {
            // A poisoned lock: assume the worst.
            self.moved();
            return;
        };
        if *seen != now {
            *seen = now;
            self.moved();
        }
    }

    /// SQLite: tells other processes on the file that a revocation was written. Best effort:
    /// if the file cannot be written, other processes see the revocation once their
    /// remembered answers age out.
    fn tell_others(&self) {
        let Some((path, _)) = &self.0.signal else {
            return;
        };
        let result = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .and_then(|mut f| {
                if f.metadata()?.len() >= SIGNAL_MAX {
                    f.set_len(0)?;
                }
                f.write_all(b"r")
            });
        if let Err(e) = result {
            tracing::warn!(error = %e, file = %path.display(), "cannot signal a revocation");
        }
    }

    /// The epoch to remember with a "not revoked" answer read after this call, or `None` when
    /// no such answer may be reused.
    pub fn current(&self) -> Option<u64> {
        self.look_for_others();
        // SeqCst: the epoch read here happens before the database read that follows, and a
        // revocation's `moved` after its write (see `Storage::revoke_jti`).
        if self.0.hearing.load(Ordering::SeqCst) {
            Some(self.0.epoch.load(Ordering::SeqCst))
        } else {
            None
        }
    }

    /// May an answer remembered at `epoch` still be used?
    pub fn still(&self, epoch: u64) -> bool {
        self.current() == Some(epoch)
    }

    /// A revocation happened elsewhere (a notification or the signal file says so).
    fn moved(&self) {
        self.0.epoch.fetch_add(1, Ordering::SeqCst);
    }

    /// This node wrote a revocation (call after the write).
    pub fn revoked_here(&self) {
        self.moved();
        self.tell_others();
    }

    fn set_hearing(&self, on: bool) {
        // Moving the epoch on every change makes anything remembered before it stale: while
        // the connection was down, notifications may have been lost.
        self.moved();
        self.0.hearing.store(on, Ordering::SeqCst);
        self.moved();
    }
}

impl Storage {
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// Records a revoked JWT access token until its natural expiry; answers once every node
    /// knows (see the module's text).
    pub async fn revoke_jti(&self, jti: &str, expires_at: i64) -> super::Result<()> {
        let heard = self.revocations.expect(jti);
        let r = sqlx::query(
            "INSERT INTO revoked_tokens (jti, expires_at) VALUES ($1,$2) ON CONFLICT (jti) DO NOTHING",
        )
        .bind(jti)
        .bind(expires_at)
        .execute(self.writer())
        .await;
        // After the write: a check that reads the epoch from now on reads the row too.
        self.revocations.revoked_here();
        let inserted = match r {
            Ok(r) => r.rows_affected() == 1,
            Err(e) => {
                self.revocations.forget(jti);
                return Err(e.into());
            }
        };
        if let (true, Some(heard)) = (inserted, heard) {
            if tokio::time::timeout(Duration::from_secs(1), heard)
                .await
                .is_err()
            {
                tracing::warn!("a revocation's notification did not come back within 1 s");
            }
        }
        self.revocations.forget(jti);
        Ok(())
    }

    /// Listens for the revocations of other nodes until the task is dropped (PostgreSQL; a
    /// no-op on SQLite). Reconnects after a second when the connection is lost.
    pub async fn listen_for_revocations(&self, url: &str) {
        if self.backend != Backend::Postgres {
            return;
        }
        loop {
            match listen(url).await {
                Ok(mut listener) => {
                    self.revocations.set_hearing(true);
                    tracing::debug!("listening for revocations");
                    loop {
                        match listener.try_recv().await {
                            Ok(Some(n)) => self.revocations.heard(n.payload()),
                            // The connection was lost; notifications may have been missed.
                            Ok(None) => break,
                            Err(e) => {
                                tracing::warn!(error = %e, "revocation listener failed");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot listen for revocations"),
            }
            self.revocations.set_hearing(false);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn listen(url: &str) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let mut listener = sqlx::postgres::PgListener::connect(url).await?;
    listener.listen(CHANNEL).await?;
    Ok(listener)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revocation_or_a_lost_listener_makes_remembered_answers_stale() {
        let r = Revocations::new(Backend::Sqlite, None);
        let e = r.current().unwrap();
        assert!(r.still(e));
        r.revoked_here();
        assert!(!r.still(e));

        let pg = Revocations::new(Backend::Postgres, None);
        assert_eq!(
            pg.current(),
            None,
            "nothing is reused before the listener hears"
        );
        pg.set_hearing(true);
        let e = pg.current().unwrap();
        assert!(pg.still(e));
        let mut heard = pg.expect("j").unwrap();
        pg.heard("j");
        assert!(
            heard.try_recv().is_ok(),
            "the revoking request hears its own notification"
        );
        assert!(!pg.still(e));
        let e = pg.current().unwrap();
        pg.set_hearing(false);
        assert!(!pg.still(e));
        pg.set_hearing(true);
        assert!(!pg.still(e), "a reconnection does not revive older answers");
    }

    #[test]
    fn processes_on_one_sqlite_file_see_each_others_revocations() {
        let dir = std::env::temp_dir().join(format!("mpsv-rev-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("idp.db");
        let (one, two) = (
            Revocations::new(Backend::Sqlite, Some(&db)),
            Revocations::new(Backend::Sqlite, Some(&db)),
        );
        for _ in 0..3 {
            let e = two.current().unwrap();
            assert!(two.still(e));
            one.revoked_here();
            assert!(!two.still(e));
        }
        // Starting the file over is a change too.
        std::fs::write(
            dir.join("idp.db.revocations"),
            vec![b'r'; SIGNAL_MAX as usize],
        )
        .unwrap();
        let e = two.current().unwrap();
        one.revoked_here();
        assert_eq!(
            std::fs::metadata(dir.join("idp.db.revocations"))
                .unwrap()
                .len(),
            1
        );
        assert!(!two.still(e));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
