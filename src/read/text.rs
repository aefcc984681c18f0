//! Text a stranger wrote (a reporter's name, a report id, a failure's comment), made safe to
//! carry: control characters (CR and LF among them) and the bidirectional overrides that
//! reorder what a reader sees become spaces, and the whole is cut to a length. Applied where
//! such text is read, so that no alert, log line or metric dimension carries it raw.

/// `text` with control and bidirectional-override characters as spaces, trimmed, and cut at
/// `limit` characters (the cut marked with `…`).
pub fn bounded(text: &str, limit: usize) -> String {
    let clean =
        |c: char| c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    let trimmed = text.trim();
    // Nearly all text is short and clean, and most of it printable ASCII (looked at a byte at
    // a time, cheaper than a character at a time): then it is copied as it is.
    if trimmed.len() <= limit
        && (trimmed.bytes().all(|b| (b' '..=b'~').contains(&b)) || !trimmed.chars().any(clean))
    {
        return trimmed.to_owned();
    }
    let spaced: String = trimmed
        .chars()
        .map(|c| if clean(c) { ' ' } else { c })
        .collect();
    let spaced = spaced.trim();
    if spaced.chars().count() <= limit {
        return spaced.to_owned();
    }
    let mut cut: String = spaced.chars().take(limit.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::bounded;

    #[test]
    fn strangers_text_is_cleaned_and_cut() {
        // (case, text, limit, expected)
        let cases = [
            ("clean text stays", "google.com", 64, "google.com"),
            (
                "line breaks cannot forge lines",
                "a\r\nSubject: x",
                64,
                "a  Subject: x",
            ),
            (
                "a right-to-left override",
                "moc.elgoog\u{202E}",
                64,
                "moc.elgoog",
            ),
            ("cut, and marked", "abcdefghij", 5, "abcd…"),
            ("trimmed", "  spaced  ", 64, "spaced"),
        ];
        for (case, text, limit, expected) in cases {
            assert_eq!(bounded(text, limit), expected, "{case}");
        }
    }
}
