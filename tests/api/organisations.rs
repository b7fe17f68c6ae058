//! Organisations in storage (MPSV domain, first step): IČO unique and validated, search by
//! name without diacritics, on SQLite and PostgreSQL.

use mpsv_idp::domain::organisation::{Ico, Organisation, OrganisationKind, Seat};
use mpsv_idp::storage::StorageError;

use crate::db_test;
use crate::helpers::*;

db_test!(organisations_are_stored_unique_by_ico_and_found_without_diacritics);

fn org(ico: &str, name: &str, nno: bool) -> Organisation {
    Organisation::new(
        Ico::parse(ico).unwrap(),
        name,
        "spolek",
        Seat::parse("Na Poříčním právu 376/1", "Praha 2", "128 01").unwrap(),
        OrganisationKind {
            social_service_provider: true,
            nno_family_support: nno,
        },
    )
    .unwrap()
}

async fn organisations_are_stored_unique_by_ico_and_found_without_diacritics(db: Db) {
    let app = spawn_app(db).await;
    let s = &app.state.storage;
    let a = org("00551023", "Šťastná rodina, z. s.", true);
    s.insert_organisation(&a).await.unwrap();
    s.insert_organisation(&org("45274649", "Domov Slunečnice", false))
        .await
        .unwrap();
    // The same IČO twice is a clear conflict, not an internal error.
    let dup = s
        .insert_organisation(&org("00551023", "Jiná", false))
        .await
        .unwrap_err();
    assert!(matches!(dup, StorageError::Conflict(_)), "{dup}");
    let found = s.search_organisations("stastna", 10).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0], a);
    assert_eq!(
        s.search_organisations("ŠŤASTNÁ", 10).await.unwrap().len(),
        1
    );
    assert_eq!(
        s.search_organisations("4527", 10).await.unwrap()[0].name,
        "Domov Slunečnice"
    );
    assert_eq!(
        s.search_organisations("%", 10).await.unwrap().len(),
        2,
        "typed wildcards are dropped: like an empty search"
    );
    let mut changed = a.clone();
    changed.kind.nno_family_support = false;
    changed.name = "Šťastná rodina, o. p. s.".into();
    assert!(s.update_organisation(&changed).await.unwrap());
    assert_eq!(s.organisation(&a.id).await.unwrap().unwrap(), changed);
    assert_eq!(
        s.organisation_by_ico(&a.ico).await.unwrap().unwrap().id,
        a.id
    );
}
