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
