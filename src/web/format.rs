//! Formatting of times for pages: `30. 11. 2026 14:05 UTC` (Czech) or `2026-11-30 14:05 UTC`.

use super::i18n::Lang;

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

pub fn datetime(unix: i64, lang: Lang) -> String {
    let (y, m, d) = civil(unix.div_euclid(86_400));
    let secs = unix.rem_euclid(86_400);
    let (hh, mm) = (secs / 3600, (secs % 3600) / 60);
    match lang {
        Lang::Cs => format!("{d}. {m}. {y} {hh:02}:{mm:02} UTC"),
        Lang::En => format!("{y}-{m:02}-{d:02} {hh:02}:{mm:02} UTC"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_formatted_per_language() {
        assert_eq!(datetime(0, Lang::En), "1970-01-01 00:00 UTC");
        assert_eq!(datetime(1_795_997_100, Lang::Cs), "30. 11. 2026 00:05 UTC");
        assert_eq!(datetime(951_782_400, Lang::En), "2000-02-29 00:00 UTC");
    }
}
