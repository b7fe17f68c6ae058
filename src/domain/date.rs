//! Calendar dates with legal effect (consents are signed and received on a date, statutory
//! roles end on one, letters expire) and Czech local time, on `jiff` and the IANA time zone
//! database compiled into the binary (`Europe/Prague`: so a machine or image without
//! `/usr/share/zoneinfo`, or with an old one, still gets Czech summer time right).

use std::fmt;
use std::sync::LazyLock;

use jiff::civil;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ZonedDateTime};

use super::ParseError;

/// Europe/Prague from the bundled database. It is always there; were it not, the fallback is
/// CET without summer time (an hour off in summer, never a failure) and the error is logged.
static PRAGUE: LazyLock<TimeZone> = LazyLock::new(|| {
    jiff::tz::db().get("Europe/Prague").unwrap_or_else(|e| {
        tracing::error!(error = %e, "Europe/Prague missing from the time zone database");
        TimeZone::fixed(jiff::tz::offset(1))
    })
});

/// The instant `unix` (seconds) in Prague; instants outside jiff's range (years beyond
/// ±9999) are clamped to its ends.
pub fn in_prague(unix: i64) -> ZonedDateTime {
    let t = Timestamp::from_second(unix).unwrap_or(if unix < 0 {
        Timestamp::MIN
    } else {
        Timestamp::MAX
    });
    t.to_zoned_datetime(PRAGUE.clone())
}

/// A calendar date, stored as `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date(civil::Date);

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
        let num = |x: &str, max_len: usize| -> Result<i16, ParseError> {
            if x.is_empty() || x.len() > max_len || !x.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            x.parse().map_err(|_| bad())
        };
        let (y, m, d) = (num(y, 4)?, num(m, 2)?, num(d, 2)?);
        if !(1900..=9999).contains(&y) {
            return Err(bad());
        }
        let m = i8::try_from(m).map_err(|_| bad())?;
        let d = i8::try_from(d).map_err(|_| bad())?;
        // jiff refuses 31 April, 29 February of common years, month 13, …
        civil::Date::new(y, m, d).map(Date).map_err(|_| bad())
    }

    /// The date in Prague at the instant `unix`.
    pub fn in_prague(unix: i64) -> Self {
        Date(in_prague(unix).date())
    }

    /// The first second of the day in Prague, as Unix seconds.
    pub fn start_in_prague(self) -> i64 {
        // Prague changes its clocks at 02:00/03:00 local time, never at midnight; jiff's
        // compatible disambiguation would take the later instant if it ever did.
        self.0
            .to_zoned_datetime(PRAGUE.clone())
            .map(|z| z.timestamp().as_second())
            .unwrap_or(i64::MAX)
    }

    /// `n` days later (earlier when negative), saturating at jiff's range.
    pub fn add_days(self, n: i64) -> Self {
        let end = if n < 0 {
            civil::Date::MIN
        } else {
            civil::Date::MAX
        };
        let later = jiff::Span::new()
            .try_days(n)
            .ok()
            .and_then(|span| self.0.checked_add(span).ok());
        Date(later.unwrap_or(end))
    }

    /// `30. 11. 2026`, as Czech letters and pages write a date.
    pub fn czech(self) -> String {
        format!("{}. {}. {}", self.0.day(), self.0.month(), self.0.year())
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}",
            self.0.year(),
            self.0.month(),
            self.0.day()
        )
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
