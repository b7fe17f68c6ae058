//! Bulk import of organisations from CSV (operators on the server): a dry run checks every
//! row and writes nothing; a real run registers every valid row (each one whole, with its
//! audit record) and reports every invalid one with the reason. Nothing is half-written.
//!
//! The file is UTF-8 (a BOM is ignored), comma- or semicolon-separated (as Czech spreadsheets
//! save), with a header naming the columns:
//! `ico, name, legal_form, street, city, postcode, social_service_provider, nno_family_support`.
//! Flags are `ano`/`ne`, `true`/`false`, `yes`/`no` or `1`/`0`.

use super::{Actor, Result};
use crate::app::AppState;
use crate::domain::organisation::{Ico, Organisation, OrganisationKind, Seat};

const COLUMNS: [&str; 8] = [
    "ico",
    "name",
    "legal_form",
    "street",
    "city",
    "postcode",
    "social_service_provider",
    "nno_family_support",
];

/// What happened to one data row (`line` counts from 1 with the header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowReport {
    pub line: u64,
    pub ico: String,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Imported,
    /// Dry run: the row is valid and would be imported.
    WouldImport,
    /// An organisation with this IČO is already registered (nothing changed).
    Exists,
    Invalid(String),
}

/// Reads and checks the rows; the organisations of valid rows are returned with their report.
pub fn parse(text: &str) -> std::result::Result<Vec<(RowReport, Option<Organisation>)>, String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let header = text.lines().next().unwrap_or("");
    let delimiter = if header.matches(';').count() > header.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| format!("unreadable header: {e}"))?
        .iter()
        .map(|h| h.to_lowercase())
        .collect();
    let mut index = [0usize; 8];
    for (i, name) in COLUMNS.iter().enumerate() {
        index[i] = headers.iter().position(|h| h == name).ok_or_else(|| {
            format!(
                "the header has no column {name:?} (needs: {})",
                COLUMNS.join(", ")
            )
        })?;
    }
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let line = n as u64 + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                out.push((invalid(line, "", format!("unreadable row: {e}")), None));
                continue;
            }
        };
        let get = |i: usize| record.get(index[i]).unwrap_or("").trim();
        let raw_ico = get(0).to_owned();
        let row = (|| -> std::result::Result<Organisation, String> {
            let ico = Ico::parse(&raw_ico).map_err(|e| e.0)?;
            let seat = Seat::parse(get(3), get(4), get(5)).map_err(|e| e.0)?;
            let kind = OrganisationKind {
                social_service_provider: flag(get(6), COLUMNS[6])?,
                nno_family_support: flag(get(7), COLUMNS[7])?,
            };
            if get(2).is_empty() {
                return Err("legal_form is empty".into());
            }
            Organisation::new(ico, get(1), get(2), seat, kind).map_err(|e| e.0)
        })();
        match row {
            Ok(o) if seen.contains(&o.ico.as_str().to_owned()) => out.push((
                invalid(
                    line,
                    &raw_ico,
                    "the same IČO appears on an earlier row".into(),
                ),
                None,
            )),
            Ok(o) => {
                seen.push(o.ico.as_str().to_owned());
                out.push((
                    RowReport {
                        line,
                        ico: o.ico.as_str().to_owned(),
                        outcome: Outcome::WouldImport,
                    },
                    Some(o),
                ));
            }
            Err(reason) => out.push((invalid(line, &raw_ico, reason), None)),
        }
    }
    Ok(out)
}

fn invalid(line: u64, ico: &str, reason: String) -> RowReport {
    RowReport {
        line,
        ico: ico.to_owned(),
        outcome: Outcome::Invalid(reason),
    }
}

fn flag(value: &str, column: &str) -> std::result::Result<bool, String> {
    match value.to_lowercase().as_str() {
        "ano" | "true" | "yes" | "1" | "a" | "y" => Ok(true),
        "ne" | "false" | "no" | "0" | "n" | "" => Ok(false),
        other => Err(format!("{column}: {other:?} is not ano/ne")),
    }
}

/// Imports (or, with `dry_run`, only checks) a CSV file of organisations.
pub async fn import(
    state: &AppState,
    actor: Actor<'_>,
    text: &str,
    dry_run: bool,
) -> Result<Vec<RowReport>> {
    let rows = parse(text).map_err(super::RegistryError::Invalid)?;
    let mut report = Vec::with_capacity(rows.len());
    for (mut row, org) in rows {
        if let Some(o) = org {
            if state.storage.organisation_by_ico(&o.ico).await?.is_some() {
                row.outcome = Outcome::Exists;
            } else if !dry_run {
                match super::organisations::create(state, actor, &o).await {
                    Ok(()) => row.outcome = Outcome::Imported,
                    // Registered meanwhile by someone else.
                    Err(super::RegistryError::Conflict(_)) => row.outcome = Outcome::Exists,
                    Err(e) => return Err(e),
                }
            }
        }
        report.push(row);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_checked_one_by_one_with_reasons() {
        let csv = "\u{feff}ico;name;legal_form;street;city;postcode;social_service_provider;nno_family_support\n\
                   27712346;Domov Slunce, o. p. s.;o. p. s.;Lipová 12;Brno;602 00;ano;ne\n\
                   27712347;Špatné IČO;spolek;Husova 8;Olomouc;779 00;ne;ano\n\
                   26543214;Šťastná rodina, z. ú.;z. ú.;Náměstí Míru 5;Ústí nad Labem;400 01;ano;možná\n\
                   27712346;Znovu;spolek;Husova 8;Olomouc;779 00;ne;ne\n\
                   26910021;Klubíčko, z. s.;spolek;Husova 8;Olomouc;779 00;ne;ano\n";
        let rows = parse(csv).unwrap();
        let outcomes: Vec<_> = rows
            .iter()
            .map(|(r, _)| (r.line, r.outcome.clone()))
            .collect();
        assert_eq!(outcomes[0], (2, Outcome::WouldImport));
        assert!(matches!(&outcomes[1].1, Outcome::Invalid(r) if r.contains("check digit")));
        assert!(matches!(&outcomes[2].1, Outcome::Invalid(r) if r.contains("nno_family_support")));
        assert!(matches!(&outcomes[3].1, Outcome::Invalid(r) if r.contains("earlier row")));
        assert_eq!(outcomes[4], (6, Outcome::WouldImport));
        let nno = rows[4].1.as_ref().unwrap();
        assert!(nno.kind.nno_family_support && !nno.kind.social_service_provider);
    }

    #[test]
    fn a_missing_column_is_one_clear_error() {
        let e = parse("ico,name\n27712346,X\n").unwrap_err();
        assert!(e.contains("legal_form"), "{e}");
    }
}
