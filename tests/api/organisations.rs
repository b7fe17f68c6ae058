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

db_test!(a_csv_import_reports_bad_rows_and_imports_the_good_ones_once);

const CSV: &str =
    "ico;name;legal_form;street;city;postcode;social_service_provider;nno_family_support\n\
27712346;Domov Slunce, o. p. s.;o. p. s.;Lipová 12;Brno;602 00;ano;ne\n\
27712347;Špatné IČO, z. s.;spolek;Husova 8;Olomouc;779 00;ne;ano\n\
26543214;Šťastná rodina, z. ú.;z. ú.;Náměstí Míru 5;Ústí nad Labem;400 01;ano;ano\n\
26910021;;spolek;Husova 8;Olomouc;779 00;ne;ano\n";

async fn a_csv_import_reports_bad_rows_and_imports_the_good_ones_once(db: Db) {
    use mpsv_idp::registry::import::{import, Outcome};
    let app = spawn_app(db).await;
    let s = &app.state.storage;
    let count = || async { s.search_organisations("", 100).await.unwrap().len() };

    // Dry run: a full report, nothing written.
    let report = import(&app.state, "cli:test", CSV, true).await.unwrap();
    assert_eq!(report.len(), 4);
    assert_eq!(report[0].outcome, Outcome::WouldImport);
    assert!(matches!(&report[1].outcome, Outcome::Invalid(r) if r.contains("check digit")));
    assert_eq!(report[1].line, 3);
    assert!(matches!(&report[3].outcome, Outcome::Invalid(r) if r.contains("name")));
    assert_eq!(count().await, 0);

    let report = import(&app.state, "cli:test", CSV, false).await.unwrap();
    let imported = report
        .iter()
        .filter(|r| r.outcome == Outcome::Imported)
        .count();
    assert_eq!(imported, 2);
    assert_eq!(count().await, 2);
    let o = s
        .organisation_by_ico(&Ico::parse("26543214").unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(o.kind.nno_family_support && o.kind.social_service_provider);
    assert_eq!(o.seat.city, "Ústí nad Labem");

    // Again: nothing new, the valid rows are reported as already registered.
    let report = import(&app.state, "cli:test", CSV, false).await.unwrap();
    assert_eq!(report[0].outcome, Outcome::Exists);
    assert_eq!(count().await, 2);
    // Each import is audited.
    let log = app
        .state
        .audit
        .query(&mpsv_idp::audit::Filter {
            event: Some("organisation.created".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(log.len(), 2);
}
