//! The audit log (issue 6): append-only, hash-chained; `mpsv-idp audit verify` finds an
//! altered or removed record; filters and export — on SQLite and PostgreSQL.

use mpsv_idp::audit::{Event, Filter, Record, Verification};

use crate::db_test;
use crate::helpers::*;

db_test!(
    the_audit_chain_detects_an_altered_or_removed_record,
    the_audit_log_is_filtered_and_exported
);

async fn sql(app: &TestApp, statement: &str) {
    sqlx::query(sqlx::AssertSqlSafe(statement.to_owned()))
        .execute(app.state.storage.pool())
        .await
        .unwrap();
}

async fn record(app: &TestApp, n: usize) {
    for i in 0..n {
        app.state
            .audit
            .record(
                Record::new(Event::ConsentRecorded)
                    .actor("operator-1")
                    .subject(format!("person-{i}"))
                    .ip(Some("192.0.2.7".to_owned()))
                    .detail("reference", format!("MPSV-{i}/2026")),
            )
            .await
            .unwrap();
    }
}

/// `mpsv-idp audit …` against the app's database; returns (exit code, stdout).
fn cli(app: &TestApp, args: &[&str]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mpsv-idp"))
        .args(args)
        .env("MPSV_IDP_DATABASE_URL", &app.state.config.database_url)
        .env("RUST_LOG", "error")
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

async fn the_audit_chain_detects_an_altered_or_removed_record(db: Db) {
    let app = spawn_app(db).await;
    record(&app, 5).await;
    let Verification::Intact { records } = app.state.audit.verify().await.unwrap() else {
        panic!("a fresh log verifies");
    };
    assert!(records >= 5);
    let (code, out) = cli(&app, &["audit", "verify"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("intact"), "{out}");

    // Someone with database access rewrites a record's details.
    let rows = app
        .state
        .audit
        .query(&Filter {
            subject: Some("person-2".into()),
            limit: 10,
            ..Filter::default()
        })
        .await
        .unwrap();
    let id = rows[0].id;
    sql(
        &app,
        &format!("UPDATE audit_log SET details = '{{\"reference\":\"forged\"}}' WHERE id = {id}"),
    )
    .await;
    assert_eq!(
        app.state.audit.verify().await.unwrap(),
        Verification::Broken { at_id: id }
    );
    let (code, _) = cli(&app, &["audit", "verify"]);
    assert_eq!(code, 1);

    // A fresh log where a record is deleted instead.
    let app = spawn_app(db).await;
    record(&app, 4).await;
    let rows = app.state.audit.page_after(0, 100).await.unwrap();
    let victim = rows[1].id;
    sql(&app, &format!("DELETE FROM audit_log WHERE id = {victim}")).await;
    assert_eq!(
        app.state.audit.verify().await.unwrap(),
        Verification::Broken { at_id: rows[2].id }
    );
}

async fn the_audit_log_is_filtered_and_exported(db: Db) {
    let app = spawn_app(db).await;
    record(&app, 3).await;
    app.state
        .audit
        .record(
            Record::new(Event::LetterIssued)
                .actor("operator-2")
                .subject("person-1"),
        )
        .await
        .unwrap();
    let by = |f: Filter| {
        let audit = app.state.audit.clone();
        async move { audit.query(&f).await.unwrap() }
    };
    let all = by(Filter {
        limit: 100,
        ..Filter::default()
    })
    .await;
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    let letters = by(Filter {
        event: Some("letter.issued".into()),
        limit: 100,
        ..Filter::default()
    })
    .await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].actor.as_deref(), Some("operator-2"));
    let person1 = by(Filter {
        subject: Some("person-1".into()),
        limit: 100,
        ..Filter::default()
    })
    .await;
    assert_eq!(person1.len(), 2);
    // Paging backwards with the cursor.
    let first = by(Filter {
        limit: 2,
        ..Filter::default()
    })
    .await;
    let next = by(Filter {
        limit: 2,
        before: Some(first[1].id),
        ..Filter::default()
    })
    .await;
    assert!(next[0].id < first[1].id);

    let (code, out) = cli(&app, &["audit", "export"]);
    assert_eq!(code, 0);
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), all.len());
    assert_eq!(lines.last().unwrap()["event"], "letter.issued");
    assert_eq!(lines[0]["details"]["reference"], "MPSV-0/2026");
    assert_eq!(lines[1]["prev_hash"], lines[0]["hash"]);
}
