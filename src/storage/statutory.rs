//! Statutory roles (the representatives of an organisation): started and ended, now or on a
//! date that the upkeep carries out when it comes (MPSV rule 6).

use sqlx::FromRow;

use super::people::join_organisation;
use super::{Result, Storage, Tx};
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::secrets::now;

/// A statutory role as stored: from (inclusive) until (exclusive), Unix seconds.
#[derive(Debug, Clone, FromRow)]
pub struct StatutoryRole {
    pub id: String,
    pub person_sub: Subject,
    pub organisation_id: OrganisationId,
    pub from_at: i64,
    pub until_at: Option<i64>,
}

impl Storage {
    /// Records that a person is a statutory representative of an organisation from `from_at`.
    pub async fn start_statutory_role_in(
        &self,
        tx: &mut Tx,
        id: &str,
        person_sub: &Subject,
        organisation_id: &OrganisationId,
        from_at: i64,
        recorded_by: &str,
    ) -> Result<()> {
        join_organisation(tx, person_sub, organisation_id, from_at).await?;
        sqlx::query(
            "INSERT INTO statutory_roles (id, person_sub, organisation_id, from_at, until_at, \
             recorded_by, recorded_at) VALUES ($1,$2,$3,$4,NULL,$5,$6)",
        )
        .bind(id)
        .bind(person_sub)
        .bind(organisation_id)
        .bind(from_at)
        .bind(recorded_by)
        .bind(now())
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Ends every open statutory role of the person in the organisation at `at` (or keeps an
    /// earlier end already set). Returns how many roles were ended.
    pub async fn end_statutory_role_in(
        &self,
        tx: &mut Tx,
        person_sub: &Subject,
        organisation_id: &OrganisationId,
        at: i64,
        by: &str,
        reason: &str,
    ) -> Result<u64> {
        let r = sqlx::query(
            "UPDATE statutory_roles SET until_at = $1, ended_by = $2, end_reason = $3 \
             WHERE person_sub = $4 AND organisation_id = $5 \
             AND (until_at IS NULL OR until_at > $1)",
        )
        .bind(at)
        .bind(by)
        .bind(reason)
        .bind(person_sub)
        .bind(organisation_id)
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected())
    }

    /// Statutory roles of an organisation that are current or start later (not ended before
    /// `at`), or of one person when `person_sub` is given.
    pub async fn statutory_roles(
        &self,
        organisation_id: Option<&OrganisationId>,
        person_sub: Option<&Subject>,
        at: i64,
    ) -> Result<Vec<StatutoryRole>> {
        Ok(sqlx::query_as(
            "SELECT id, person_sub, organisation_id, from_at, until_at FROM statutory_roles \
             WHERE ($1 = '' OR organisation_id = $1) AND ($2 = '' OR person_sub = $2) \
             AND (until_at IS NULL OR until_at > $3) ORDER BY from_at, id",
        )
        .bind(organisation_id.map_or("", OrganisationId::as_str))
        .bind(person_sub.map_or("", Subject::as_str))
        .bind(at)
        .fetch_all(self.pool())
        .await?)
    }

    /// Is the person a statutory representative of the organisation at `at`?
    pub async fn is_statutory(
        &self,
        person_sub: &Subject,
        organisation_id: &OrganisationId,
        at: i64,
    ) -> Result<bool> {
        let n: (i64,) = sqlx::query_as(concat!(
            "SELECT COUNT(*) FROM statutory_roles WHERE person_sub = $1 AND ",
            statutory_now!(),
            " AND organisation_id = $3"
        ))
        .bind(person_sub)
        .bind(at)
        .bind(organisation_id)
        .fetch_one(self.pool())
        .await?;
        Ok(n.0 > 0)
    }

    /// Statutory roles that have ended by `at` whose consequences were not yet carried out.
    pub async fn ended_roles_pending(&self, at: i64) -> Result<Vec<StatutoryRole>> {
        Ok(sqlx::query_as(
            "SELECT id, person_sub, organisation_id, from_at, until_at FROM statutory_roles \
             WHERE until_at IS NOT NULL AND until_at <= $1 AND effects_applied_at IS NULL \
             ORDER BY until_at, id",
        )
        .bind(at)
        .fetch_all(self.pool())
        .await?)
    }

    /// Marks a role's end as carried out; false when another node already did.
    pub async fn mark_role_end_applied_in(&self, tx: &mut Tx, id: &str) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE statutory_roles SET effects_applied_at = $1 \
             WHERE id = $2 AND effects_applied_at IS NULL",
        )
        .bind(now())
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }
}
