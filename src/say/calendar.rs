//! Dates and durations for people: the UTC calendar date and time of Unix seconds, a report's
//! period, and how long something lasted. Written once; every text that names a time takes it
//! from here.

/// `between 2026-11-01 and 2026-11-02 (UTC)`, from a report's Unix seconds.
pub fn date_range(range: (Option<u64>, Option<u64>)) -> String {
    match range {
        (Some(begin), Some(end)) => {
            format!("between {} and {} (UTC)", utc_date(begin), utc_date(end))
        }
        (Some(begin), None) => format!("from {} (UTC)", utc_date(begin)),
        (None, Some(end)) => format!("until {} (UTC)", utc_date(end)),
        (None, None) => "in a period it does not give".into(),
    }
}

/// The UTC calendar date of Unix seconds (the proleptic Gregorian calendar, as RFC 3339).
pub fn utc_date(seconds: u64) -> String {
    // Days since 1970-01-01 to a civil date, by eras of 400 years (146097 days).
    let days = (seconds / 86_400) as i64 + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

/// Unix seconds of `YYYY-MM-DD` at 00:00 UTC; `None` for anything else (a day that does
/// not exist, a year before 1970).
pub fn parse_utc_date(text: &str) -> Option<u64> {
    let mut parts = text.trim().splitn(3, '-');
    let mut number = |digits: usize| {
        parts
            .next()
            .filter(|p| p.len() == digits && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<i64>().ok())
    };
    let (year, month, day) = (number(4)?, number(2)?, number(2)?);
    if !(1..=12).contains(&month) || day < 1 {
        return None;
    }
    // The inverse of `utc_date`, by eras of 400 years.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_index = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    let seconds = u64::try_from(days).ok()? * 86_400;
    // A day past the month's end comes back as another date.
    (utc_date(seconds) == text.trim()).then_some(seconds)
}

/// A duration for people: `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`.
pub fn duration(seconds: u64) -> String {
    let (days, hours, minutes) = (
        seconds / 86_400,
        seconds % 86_400 / 3600,
        seconds % 3600 / 60,
    );
    match (days, hours, minutes) {
        (0, 0, 0) => format!("{seconds} s"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    }
}

/// `2026-11-30 23:40 UTC`, from Unix seconds.
pub fn utc_time(seconds: u64) -> String {
    let of_day = seconds % 86_400;
    format!(
        "{} {:02}:{:02} UTC",
        utc_date(seconds),
        of_day / 3600,
        of_day % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_read_back_as_written() {
        for (text, seconds) in [
            ("1970-01-01", Some(0)),
            ("2026-11-30", Some(1_795_996_800)),
            ("2024-02-29", Some(1_709_164_800)),
            // Not days: February 30th, a 2023 leap day, month 13, other shapes.
            ("2026-02-30", None),
            ("2023-02-29", None),
            ("2026-13-01", None),
            ("2026-1-01", None),
            ("26-11-30", None),
            ("1969-12-31", None),
            ("2026-11-30T00:00", None),
        ] {
            assert_eq!(parse_utc_date(text), seconds, "{text}");
            if let Some(seconds) = seconds {
                assert_eq!(utc_date(seconds), text);
            }
        }
    }
}
