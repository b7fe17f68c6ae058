//! Signing keys and the data key, sealed with the KEK (`keys::kek`; issue 12.1).

use super::{Result, Storage, Tx};

/// A signing key as stored: the private part sealed, the public JWK in clear (so that a node
/// can publish and verify with a key it cannot open, e.g. during a KEK rotation).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredSigningKey {
    pub kid: String,
    pub alg: String,
    pub generation: i64,
    pub created_at: i64,
    pub active_from: i64,
    pub public_jwk: String,
    pub private_key: String,
    pub kek_id: String,
}

/// The data key as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StoredDataKey {
    pub sealed: String,
    pub kek_id: String,
}

impl Storage {
    pub async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>> {
        Ok(sqlx::query_as(
            "SELECT kid, alg, generation, created_at, active_from, public_jwk, private_key, \
             kek_id FROM signing_keys ORDER BY kid",
        )
        .fetch_all(self.pool())
        .await?)
    }

    /// The generation a new key of `alg` takes.
    pub async fn next_key_generation(&self, alg: &str) -> Result<i64> {
        let (next,): (i64,) = sqlx::query_as(
            "SELECT COALESCE(MAX(generation) + 1, 0) FROM signing_keys WHERE alg = $1",
        )
        .bind(alg)
        .fetch_one(self.pool())
        .await?;
        Ok(next)
    }

    /// Inserts a key unless its `kid` or its `(alg, generation)` is taken; `false` if it was
    /// (another node won the race, or the key was imported before).
    pub async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let done = self.insert_signing_key_in(&mut tx, key).await?;
        tx.commit().await?;
        Ok(done)
    }

    /// [`Storage::insert_signing_key`] in the caller's transaction.
    pub async fn insert_signing_key_in(&self, tx: &mut Tx, key: &StoredSigningKey) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO signing_keys (kid, alg, generation, created_at, active_from, \
             public_jwk, private_key, kek_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&key.kid)
        .bind(&key.alg)
        .bind(key.generation)
        .bind(key.created_at)
        .bind(key.active_from)
        .bind(&key.public_jwk)
        .bind(&key.private_key)
        .bind(&key.kek_id)
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn delete_signing_key(&self, kid: &str) -> Result<()> {
        sqlx::query("DELETE FROM signing_keys WHERE kid = $1")
            .bind(kid)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// Replaces a key's sealed private part, only if it is still sealed by `old_kek`
    /// (two nodes re-sealing at once both succeed or find it done).
    pub async fn reseal_signing_key(
        &self,
        kid: &str,
        old_kek: &str,
        private_key: &str,
        new_kek: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE signing_keys SET private_key = $1, kek_id = $2 WHERE kid = $3 AND kek_id = $4",
        )
        .bind(private_key)
        .bind(new_kek)
        .bind(kid)
        .bind(old_kek)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn data_key(&self) -> Result<Option<StoredDataKey>> {
        Ok(
            sqlx::query_as("SELECT sealed, kek_id FROM data_keys WHERE id = 1")
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// Stores the data key unless one is stored already; `false` if one was.
    pub async fn insert_data_key(&self, sealed: &str, kek_id: &str, now: i64) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO data_keys (id, sealed, kek_id, created_at) VALUES (1, $1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(sealed)
        .bind(kek_id)
        .bind(now)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn reseal_data_key(
        &self,
        old_kek: &str,
        sealed: &str,
        new_kek: &str,
    ) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE data_keys SET sealed = $1, kek_id = $2 WHERE id = 1 AND kek_id = $3",
        )
        .bind(sealed)
        .bind(new_kek)
        .bind(old_kek)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Whether the database keeps keys sealed with a KEK (then a node without one must not
    /// fall back to a key folder).
    pub async fn holds_sealed_keys(&self) -> Result<bool> {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM signing_keys) + (SELECT COUNT(*) FROM data_keys)",
        )
        .fetch_one(self.pool())
        .await?;
        Ok(n > 0)
    }

    /// Whether the database was used with a data key from a key folder (its check value is
    /// stored), which must then be imported rather than replaced by a new one.
    pub async fn has_key_check(&self, name: &str) -> Result<bool> {
        let row: Option<(String,)> = sqlx::query_as("SELECT name FROM key_checks WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.is_some())
    }
}
