//! Formatting of times for pages, in Czech local time (Europe/Prague from the bundled time
//! zone database, `domain::date`): `30. 11. 2026 14:05` (Czech) or `2026-11-30 14:05`
//! (English).

use crate::domain::date::in_prague;
use crate::pages::i18n::Lang;

pub fn datetime(unix: i64, lang: Lang) -> String {
    let z = in_prague(unix);
    let (y, m, d) = (z.year(), z.month(), z.day());
    let (hh, mm) = (z.hour(), z.minute());
    match lang {
        Lang::Cs => format!("{d}. {m}. {y} {hh:02}:{mm:02}"),
        Lang::En => format!("{y}-{m:02}-{d:02} {hh:02}:{mm:02}"),
    }
}

/// A short description of a browser from its user agent: `Chrome 156, Linux`.
pub fn user_agent(ua: &str) -> String {
    let version = |name: &str| {
        ua.split(name)
            .nth(1)
            .map(|rest| rest.split(['.', ' ', ';', ')']).next().unwrap_or(""))
            .filter(|v| !v.is_empty())
    };
    let browser = [
        ("Edg/", "Edge"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Version/", "Safari"),
    ]
    .iter()
    .find_map(|(token, name)| version(token).map(|v| format!("{name} {v}")))
    .unwrap_or_else(|| ua.chars().take(40).collect());
    let os = [
        ("Windows", "Windows"),
        ("Android", "Android"),
        ("iPhone", "iOS"),
        ("iPad", "iPadOS"),
        ("Mac OS X", "macOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(token, _)| ua.contains(token))
    .map(|(_, name)| *name);
    match os {
        Some(os) => format!("{browser}, {os}"),
        None => browser,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_formatted_per_language_in_prague_time() {
        // 2026-11-30 00:05 UTC is 01:05 CET.
        assert_eq!(datetime(1_795_997_100, Lang::Cs), "30. 11. 2026 01:05");
        assert_eq!(datetime(951_782_400, Lang::En), "2000-02-29 01:00");
    }

    #[test]
    fn user_agents_are_summarised() {
        assert_eq!(
            user_agent("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/156.0.0.0 Safari/537.36"),
            "Chrome 156, Linux"
        );
        assert_eq!(
            user_agent(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
            ),
            "Firefox 128, Windows"
        );
        assert_eq!(user_agent("curl/8.5.0"), "curl/8.5.0");
    }

    #[test]
    fn summer_time_follows_the_eu_rule() {
        // 2026: CEST from 29 March 01:00 UTC to 25 October 01:00 UTC.
        let start = 1_774_746_000; // 2026-03-29 01:00:00 UTC
        let end = 1_792_890_000; // 2026-10-25 01:00:00 UTC
        assert_eq!(datetime(start - 60, Lang::En), "2026-03-29 01:59");
        assert_eq!(datetime(start, Lang::En), "2026-03-29 03:00");
        assert_eq!(datetime(end - 60, Lang::En), "2026-10-25 02:59");
        assert_eq!(datetime(end, Lang::En), "2026-10-25 02:00");
    }

    #[test]
    fn past_rules_come_from_the_time_zone_database() {
        // Until 1995 Czech summer time ended on the last Sunday of September (24 September
        // 1995), not of October: on 1 October 1995 12:00 UTC Prague was on CET.
        assert_eq!(datetime(812_548_800, Lang::En), "1995-10-01 13:00");
    }
}
