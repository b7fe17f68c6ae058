//! Calendar dates (consents are signed and received on a date) and Czech local time
//! (Europe/Prague: CET, and CEST from the last Sunday of March to the last Sunday of October,
//! changing at 01:00 UTC — the EU rule in force since 1996).

use std::fmt;

use super::ParseError;

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian (H. Hinnant's algorithm).
pub(crate) fn civil(days: i64) -> (i64, i64, i64) {
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

/// Days since 1970-01-01 of a civil date (inverse of `civil`).
pub(crate) fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// 01:00 UTC on the last Sunday of `month` in `year`.
fn last_sunday_1utc(year: i64, month: i64) -> i64 {
    let next_first = if month == 12 {
        days_from_civil(year + 1, 1, 1)
    } else {
        days_from_civil(year, month + 1, 1)
    };
    let last = next_first - 1;
    // 1970-01-01 was a Thursday (weekday 4, Sunday = 0).
    let weekday = (last + 4).rem_euclid(7);
    (last - weekday) * 86_400 + 3600
}

/// The offset of Prague time from UTC at `unix`, in seconds.
pub(crate) fn prague_offset(unix: i64) -> i64 {
    let (y, _, _) = civil(unix.div_euclid(86_400));
    if unix >= last_sunday_1utc(y, 3) && unix < last_sunday_1utc(y, 10) {
        7200
    } else {
        3600
    }
}

/// A calendar date, stored as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    y: i64,
    m: i64,
    d: i64,
}

impl Date {
    /// `2026-11-30` (ISO 8601), or the Czech way `30. 11. 2026` / `30.11.2026`.
    pub fn parse(input: &str) -> Result<Self, ParseError> {
        let s = input.trim();
        let bad = || ParseError::new(format!("not a date (YYYY-MM-DD): {s:?}"));
        let parts: Vec<&str> = if s.contains('-') {
            s.split('-').map(str::trim).collect()
        } else {
            let mut p: Vec<&str> = s.split('.').map(str::trim).collect();
            p.reverse();
            p
        };
        let [y, m, d] = parts.as_slice() else {
            return Err(bad());
        };
        let num = |x: &str, max_len: usize| -> Result<i64, ParseError> {
            if x.is_empty() || x.len() > max_len || !x.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            x.parse().map_err(|_| bad())
        };
        let (y, m, d) = (num(y, 4)?, num(m, 2)?, num(d, 2)?);
        if !(1900..=9999).contains(&y) || !(1..=12).contains(&m) || d < 1 {
            return Err(bad());
        }
        let date = Date { y, m, d };
        // Round trip through the day count rejects 31 April, 29 February of common years, …
        if Date::from_days(date.days()) != date {
            return Err(bad());
        }
        Ok(date)
    }

    fn days(self) -> i64 {
        days_from_civil(self.y, self.m, self.d)
    }

    fn from_days(days: i64) -> Self {
        let (y, m, d) = civil(days);
        Date { y, m, d }
    }

    /// The date in Prague at the instant `unix`.
    pub fn in_prague(unix: i64) -> Self {
        Date::from_days((unix + prague_offset(unix)).div_euclid(86_400))
    }

    /// The first second of the day in Prague, as Unix seconds.
    pub fn start_in_prague(self) -> i64 {
        let utc_midnight = self.days() * 86_400;
        // The offset in force at that local midnight (changes happen at 01:00 UTC, never
        // around midnight).
        utc_midnight - prague_offset(utc_midnight)
    }

    pub fn add_days(self, n: i64) -> Self {
        Date::from_days(self.days() + n)
    }

    /// `30. 11. 2026`, as Czech letters and pages write a date.
    pub fn czech(self) -> String {
        format!("{}. {}. {}", self.d, self.m, self.y)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.y, self.m, self.d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_read_in_both_notations_and_checked() {
        let d = Date::parse("2026-11-30").unwrap();
        assert_eq!(d.to_string(), "2026-11-30");
        assert_eq!(Date::parse("30. 11. 2026").unwrap(), d);
        assert_eq!(Date::parse("30.11.2026").unwrap(), d);
        assert_eq!(d.czech(), "30. 11. 2026");
        for bad in [
            "2026-02-29",
            "2026-04-31",
            "2026-13-01",
            "x",
            "",
            "2026-1-",
            "20261130",
        ] {
            assert!(Date::parse(bad).is_err(), "{bad}");
        }
        assert!(Date::parse("2028-02-29").is_ok());
    }

    #[test]
    fn prague_dates_change_at_local_midnight() {
        // 2026-11-29 23:30 UTC is already 30 November in Prague (CET).
        assert_eq!(Date::in_prague(1_795_995_000).to_string(), "2026-11-30");
        assert_eq!(
            Date::parse("2026-11-30").unwrap().add_days(60).to_string(),
            "2027-01-29"
        );
        // Midnight of 30 November in Prague is 23:00 UTC the day before.
        assert_eq!(
            Date::parse("2026-11-30").unwrap().start_in_prague(),
            1_795_993_200
        );
        assert_eq!(Date::in_prague(1_795_993_200).to_string(), "2026-11-30");
        assert_eq!(Date::in_prague(1_795_993_199).to_string(), "2026-11-29");
    }
}
