//! Organisations.

use sqlx::FromRow;

use super::{conflict_on_unique, Result, Storage, StorageError, Tx};
use crate::domain::id::OrganisationId;
use crate::domain::organisation::{Ico, Organisation, OrganisationKind, Seat};
use crate::domain::text::search_key;
use crate::secrets::now;

#[derive(FromRow)]
pub(super) struct OrganisationRow {
    id: OrganisationId,
    ico: String,
    name: String,
    legal_form: String,
    seat_street: String,
    seat_city: String,
    seat_postcode: String,
    social_service_provider: i64,
    nno_family_support: i64,
}

macro_rules! columns {
    () => {
        "id, ico, name, legal_form, seat_street, seat_city, seat_postcode, \
         social_service_provider, nno_family_support"
    };
}

impl OrganisationRow {
    pub(super) fn into_organisation(self) -> Result<Organisation> {
        Ok(Organisation {
            id: self.id,
            ico: Ico::parse(&self.ico).map_err(|e| StorageError::Corrupt(e.0))?,
            name: self.name,
            legal_form: self.legal_form,
            seat: Seat {
                street: self.seat_street,
                city: self.seat_city,
                postcode: self.seat_postcode,
            },
            kind: OrganisationKind {
                social_service_provider: self.social_service_provider != 0,
                nno_family_support: self.nno_family_support != 0,
            },
        })
    }
}

impl Storage {
    /// Adds an organisation; an IČO already registered is a conflict.
    pub async fn insert_organisation_in(&self, tx: &mut Tx, o: &Organisation) -> Result<()> {
        let t = now();
        let r = sqlx::query(concat!(
            "INSERT INTO organisations (",
            columns!(),
            ", search_key, created_at, updated_at) \
             VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12)"
        ))
        .bind(o.id.clone())
        .bind(o.ico.as_str().to_owned())
        .bind(o.name.clone())
        .bind(o.legal_form.clone())
        .bind(o.seat.street.clone())
        .bind(o.seat.city.clone())
        .bind(o.seat.postcode.clone())
        .bind(i64::from(o.kind.social_service_provider))
        .bind(i64::from(o.kind.nno_family_support))
        .bind(search_key(&o.name))
        .bind(t)
        .bind(t)
        .execute(&mut **tx)
        .await;
        conflict_on_unique(r, "organisation with this IČO")?;
        Ok(())
    }

    /// [`Storage::insert_organisation_in`] in a transaction of its own.
    pub async fn insert_organisation(&self, o: &Organisation) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.insert_organisation_in(&mut tx, o).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces an organisation's details; false when it does not exist.
    pub async fn update_organisation(&self, o: &Organisation) -> Result<bool> {
        let r = sqlx::query(
            "UPDATE organisations SET ico = $2, name = $3, legal_form = $4, seat_street = $5, \
             seat_city = $6, seat_postcode = $7, social_service_provider = $8, \
             nno_family_support = $9, updated_at = $10, search_key = $11 WHERE id = $1",
        )
        .bind(o.id.clone())
        .bind(o.ico.as_str().to_owned())
        .bind(o.name.clone())
        .bind(o.legal_form.clone())
        .bind(o.seat.street.clone())
        .bind(o.seat.city.clone())
        .bind(o.seat.postcode.clone())
        .bind(i64::from(o.kind.social_service_provider))
        .bind(i64::from(o.kind.nno_family_support))
        .bind(now())
        .bind(search_key(&o.name))
        .execute(self.pool())
        .await;
        Ok(conflict_on_unique(r, "organisation with this IČO")?.rows_affected() == 1)
    }

    pub async fn organisation(&self, id: &OrganisationId) -> Result<Option<Organisation>> {
        let row: Option<OrganisationRow> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM organisations WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        row.map(OrganisationRow::into_organisation).transpose()
    }

    pub async fn organisation_by_ico(&self, ico: &Ico) -> Result<Option<Organisation>> {
        let row: Option<OrganisationRow> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM organisations WHERE ico = $1"
        ))
        .bind(ico.as_str())
        .fetch_optional(self.pool())
        .await?;
        row.map(OrganisationRow::into_organisation).transpose()
    }

    /// Organisations whose name or IČO contains `query` (case-insensitive), by name.
    pub async fn search_organisations(&self, query: &str, limit: i64) -> Result<Vec<Organisation>> {
        self.search_organisations_page(query, limit, 0).await
    }

    /// A page of [`Storage::search_organisations`]: `offset` rows skipped.
    pub async fn search_organisations_page(
        &self,
        query: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<Organisation>> {
        // LIKE wildcards typed by the person are taken literally by dropping them.
        let pattern = format!(
            "%{}%",
            search_key(query.trim()).replace(['%', '_', '\\'], "")
        );
        let rows: Vec<OrganisationRow> = sqlx::query_as(concat!(
            "SELECT ",
            columns!(),
            " FROM organisations WHERE search_key LIKE $1 OR ico LIKE $1 ORDER BY search_key, id \
             LIMIT $2 OFFSET $3"
        ))
        .bind(pattern)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        rows.into_iter()
            .map(OrganisationRow::into_organisation)
            .collect()
    }
}
