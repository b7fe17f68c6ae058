//! Delegations of the right to submit, granted by a statutory representative to a member of
//! the organisation, revoked, or lapsed with the representative's role.

use sqlx::FromRow;

use super::{conflict_on_unique, Result, Storage, Tx};
use crate::domain::id::OrganisationId;
use crate::domain::id::Subject;
use crate::secrets::now;

/// A delegation of submit, with the names of both people for display.
#[derive(Debug, Clone, FromRow)]
pub struct Delegation {
    pub id: String,
    pub organisation_id: OrganisationId,
    pub delegate_sub: Subject,
    pub delegate_name: String,
    pub delegator_sub: Subject,
    pub delegator_name: String,
    pub created_at: i64,
    pub created_by: String,
    pub revoked_at: Option<i64>,
}

impl Storage {
    /// Adds a delegation if, at `at`, the delegator is a statutory representative of the
    /// organisation — checked in the same statement, so a role ending meanwhile cannot let a
    /// delegation slip past its lapse. `false`: the delegator is not statutory. An active
    /// delegation between the same people for the same organisation is a conflict.
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_delegation_in(
        &self,
        tx: &mut Tx,
        id: &str,
        organisation_id: &OrganisationId,
        delegate_sub: &Subject,
        delegator_sub: &Subject,
        created_by: &str,
        at: i64,
    ) -> Result<bool> {
        let r = sqlx::query(
            "INSERT INTO delegations (id, organisation_id, delegate_sub, delegator_sub, \
             created_at, created_by) SELECT CAST($1 AS TEXT), CAST($2 AS TEXT), CAST($3 AS TEXT), \
             CAST($4 AS TEXT), CAST($5 AS BIGINT), CAST($6 AS TEXT) WHERE EXISTS (\
             SELECT 1 FROM statutory_roles WHERE person_sub = $4 AND organisation_id = $2 \
             AND from_at <= $5 AND (until_at IS NULL OR until_at > $5))",
        )
        .bind(id)
        .bind(organisation_id)
        .bind(delegate_sub)
        .bind(delegator_sub)
        .bind(at)
        .bind(created_by)
        .execute(&mut **tx)
        .await;
        Ok(conflict_on_unique(r, "this delegation")?.rows_affected() == 1)
    }

    /// Revokes a delegation of the organisation; false when there is no active one with
    /// this id there.
    pub async fn revoke_delegation_in(
        &self,
        tx: &mut Tx,
        id: &str,
        organisation_id: &OrganisationId,
        by: &str,
        reason: &str,
    ) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE delegations SET revoked_at = $1, revoked_by = $2, revoke_reason = $3 \
             WHERE id = $4 AND organisation_id = $5 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(by)
        .bind(reason)
        .bind(id)
        .bind(organisation_id)
        .execute(&mut **tx)
        .await?;
        Ok(r.rows_affected() == 1)
    }

    /// Active (not revoked) delegations of an organisation, the newest first.
    pub async fn delegations(&self, organisation_id: &OrganisationId) -> Result<Vec<Delegation>> {
        Ok(sqlx::query_as(
            "SELECT d.id, d.organisation_id, d.delegate_sub, \
             e.given_name || ' ' || e.family_name AS delegate_name, d.delegator_sub, \
             g.given_name || ' ' || g.family_name AS delegator_name, d.created_at, \
             d.created_by, d.revoked_at \
             FROM delegations d JOIN persons e ON e.sub = d.delegate_sub \
             JOIN persons g ON g.sub = d.delegator_sub \
             WHERE d.organisation_id = $1 AND d.revoked_at IS NULL \
             ORDER BY d.created_at DESC, d.id",
        )
        .bind(organisation_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Revokes every active delegation a person granted for an organisation (their statutory
    /// role ended). Returns the delegates' subs.
    pub async fn lapse_delegations_of_in(
        &self,
        tx: &mut Tx,
        delegator_sub: &Subject,
        organisation_id: &OrganisationId,
        reason: &str,
    ) -> Result<Vec<Subject>> {
        let rows: Vec<(Subject,)> = sqlx::query_as(
            "UPDATE delegations SET revoked_at = $1, revoked_by = 'system', revoke_reason = $2 \
             WHERE delegator_sub = $3 AND organisation_id = $4 AND revoked_at IS NULL \
             RETURNING delegate_sub",
        )
        .bind(now())
        .bind(reason)
        .bind(delegator_sub)
        .bind(organisation_id)
        .fetch_all(&mut **tx)
        .await?;
        Ok(rows.into_iter().map(|(s,)| s).collect())
    }
}
