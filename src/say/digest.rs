//! The weekly digest in words: its subject, each action item's line, and the one document in
//! three forms (JSON, `digest/1`; text; self-contained HTML). The CLI prints them; the digest
//! function mails the HTML and the text as one message.
//!
//! The HTML is e-mail: no script, no event handler, no resource from elsewhere (mail clients
//! block them, and a digest must read the same offline). The daily bars are table cells.

use crate::judge::bulk::Status;
use crate::judge::digest::{Action, Digest, DomainWeek, permille};
use crate::judge::report::SourceTally;
use crate::judge::source::{Classified, SourceClass};
use crate::say::calendar::{utc_date, utc_time};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The subject, carrying the state: `DMARC weekly 2026-W49: 2 of 14 domains need action`.
pub fn subject(digest: &Digest, actions: &[Action]) -> String {
    let title = title(digest);
    let needing = digest.domains_needing_action(actions).len();
    let total = digest.domains.len();
    if digest.reports == 0 {
        return format!("{title}: no reports received");
    }
    match needing {
        0 => format!("{title}: all {total} domains fine"),
        n => format!("{title}: {n} of {total} domains need action"),
    }
}

fn title(digest: &Digest) -> String {
    match (
        digest.period.iso_week(),
        digest.period.from,
        digest.period.to,
    ) {
        (Some((year, week)), _, _) => format!("DMARC weekly {year}-W{week:02}"),
        (None, Some(from), Some(to)) => {
            format!(
                "DMARC digest {} to {}",
                utc_date(from),
                utc_date(to.saturating_sub(1))
            )
        }
        (None, Some(from), None) => format!("DMARC digest from {}", utc_date(from)),
        (None, None, Some(to)) => format!("DMARC digest until {}", utc_date(to.saturating_sub(1))),
        (None, None, None) => "DMARC digest".to_owned(),
    }
}

fn percent(value: Option<u64>) -> String {
    value.map_or_else(|| "-".to_owned(), |p| format!("{}.{}%", p / 10, p % 10))
}

/// One action item, in one line.
pub fn action_line(action: &Action) -> String {
    match action {
        Action::FiguresUnreadable { days } => format!(
            "The figures of {days} day(s) could not be read from the state table: the figures \
             below are short of them. The function's log has the error."
        ),
        Action::NoReports => "No reports received: no receiver's report arrived in the period. \
             Check the rua= address in the domains' DMARC records and the reports function."
            .to_owned(),
        Action::Incident(incident) => format!(
            "Open since {} ({} finding(s)): {}",
            utc_time(incident.opened),
            incident.occurrences,
            incident.detail
        ),
        Action::MailFromFallback { messages, days, .. } => {
            let on = days
                .iter()
                .map(|d| utc_date(*d))
                .collect::<Vec<_>>()
                .join(", ");
            format!(
                "{messages} message(s) sent through SES carried the amazonses.com MAIL FROM{}: \
                 the custom MAIL FROM fell back, and SPF did not align.",
                if on.is_empty() {
                    String::new()
                } else {
                    format!(" (on {on})")
                }
            )
        }
        Action::CanaryFailing {
            sent,
            received,
            healthy,
            ..
        } => format!(
            "The canary sent {sent} probe(s): {received} arrived, {healthy} authenticated and aligned."
        ),
        Action::UnknownSources {
            addresses,
            failing,
            new,
            ..
        } => format!(
            "{failing} message(s) from {addresses} address(es) of {}unrecognized sender(s) failed DMARC. \
             If they are yours, authenticate them; if not, they are spoofing the domain.",
            if *new { "new " } else { "" }
        ),
        Action::PassRateDrop {
            before_permille,
            now_permille,
            ..
        } => format!(
            "DMARC pass rate fell from {} to {} week on week.",
            percent(Some(*before_permille)),
            percent(Some(*now_permille))
        ),
        Action::Rejections {
            quarantined,
            rejected,
            ..
        } => format!(
            "Receivers quarantined {quarantined} and rejected {rejected} message(s) sent through SES \
             or a known service: legitimate mail that did not pass."
        ),
        Action::TlsFailures {
            failed, successful, ..
        } => format!(
            "{failed} TLS session(s) to the domain's mail servers failed ({successful} succeeded)."
        ),
        Action::NotBelieved { reports } => format!(
            "{reports} report(s) were not believed (their mail did not pass DMARC for the \
             reporter's domain) and are in no figure."
        ),
    }
}

/// `digest --format json`: one object, schema `digest/1`.
#[derive(Debug, Serialize)]
pub struct DigestJson<'a> {
    schema: &'static str,
    subject: String,
    period: JsonPeriod,
    reports: u64,
    reporters: Vec<JsonReporter<'a>>,
    domains: Vec<JsonDomain<'a>>,
    action_items: Vec<JsonAction<'a>>,
    not_believed: Vec<JsonNotBelieved<'a>>,
}

#[derive(Debug, Serialize)]
struct JsonPeriod {
    from: Option<u64>,
    to: Option<u64>,
}

#[derive(Debug, Serialize)]
struct JsonReporter<'a> {
    org_name: &'a str,
    reports: u64,
}

#[derive(Debug, Serialize)]
struct JsonDisposition {
    none: u64,
    quarantine: u64,
    reject: u64,
}

#[derive(Debug, Serialize)]
struct JsonSource {
    class: SourceClass,
    name: Option<String>,
    ips: u64,
    messages: u64,
    dmarc_pass: u64,
    dmarc_fail: u64,
}

#[derive(Debug, Serialize)]
struct JsonTls {
    successful: u64,
    failed: u64,
}

#[derive(Debug, Serialize)]
struct JsonDomain<'a> {
    domain: &'a str,
    tenant: Option<&'a str>,
    policy: Option<&'a str>,
    messages: u64,
    dmarc_pass: u64,
    dmarc_fail: u64,
    dmarc_unknown: u64,
    disposition: JsonDisposition,
    sources: Vec<JsonSource>,
    tls: Option<JsonTls>,
    /// The audit's latest judgement in the period, by requirement (`pass`, `fail`, `unknown`).
    readiness: Option<BTreeMap<&'static str, &'static str>>,
}

#[derive(Debug, Serialize)]
struct JsonAction<'a> {
    kind: &'a str,
    domain: Option<&'a str>,
    detail: String,
}

#[derive(Debug, Serialize)]
struct JsonNotBelieved<'a> {
    org_name: Option<&'a str>,
    domain: Option<&'a str>,
    mailed_from: Option<&'a str>,
}

fn addresses(tally: &SourceTally) -> u64 {
    (tally.addresses.len() as u64).saturating_add(tally.addresses_not_kept)
}

/// The digest as one JSON object.
pub fn json<'a>(digest: &'a Digest, actions: &'a [Action]) -> DigestJson<'a> {
    let domains = digest
        .in_order()
        .into_iter()
        .map(|(domain, week)| {
            let totals = week.totals();
            let senders = week.by_sender();
            JsonDomain {
                domain,
                tenant: week.tenant.as_deref(),
                policy: week.policy.as_deref(),
                messages: totals.messages,
                dmarc_pass: totals.dmarc_pass,
                dmarc_fail: totals.dmarc_fail,
                dmarc_unknown: totals.dmarc_unknown,
                disposition: JsonDisposition {
                    none: totals.disposition.none,
                    quarantine: totals.disposition.quarantine,
                    reject: totals.disposition.reject,
                },
                sources: senders
                    .into_iter()
                    .map(|(sender, tally)| JsonSource {
                        class: sender.class,
                        name: sender.name,
                        ips: addresses(&tally),
                        messages: tally.messages,
                        dmarc_pass: tally.dmarc_pass,
                        dmarc_fail: tally.dmarc_fail,
                    })
                    .collect(),
                tls: week.tls.map(|t| JsonTls {
                    successful: t.successful,
                    failed: t.failed,
                }),
                readiness: week.readiness.as_ref().map(|(_, judged)| {
                    judged
                        .iter()
                        .map(|(r, s)| (r.as_str(), s.as_str()))
                        .collect()
                }),
            }
        })
        .collect();
    DigestJson {
        schema: "digest/1",
        subject: subject(digest, actions),
        period: JsonPeriod {
            from: digest.period.from,
            to: digest.period.to,
        },
        reports: digest.reports,
        reporters: digest
            .reporters
            .values()
            .map(|r| JsonReporter {
                org_name: &r.name,
                reports: r.reports,
            })
            .collect(),
        domains,
        action_items: actions
            .iter()
            .take(crate::judge::digest::ACTIONS_SHOWN)
            .map(|a| JsonAction {
                kind: a.kind(),
                domain: a.domain(),
                detail: action_line(a),
            })
            .collect(),
        not_believed: digest
            .not_believed
            .iter()
            .map(|n| JsonNotBelieved {
                org_name: n.reporter.as_deref(),
                domain: n.domain.as_deref(),
                mailed_from: n.mailed_from.as_deref(),
            })
            .collect(),
    }
}

/// One domain's row of the all-domains table, as words.
struct Row {
    tenant: Option<String>,
    domain: String,
    policy: String,
    messages: u64,
    pass: String,
    change: String,
    spf: String,
    dkim: String,
    held: u64,
    unknown: u64,
    canary: String,
    complaints: String,
    readiness: String,
}

fn rows(digest: &Digest) -> Vec<Row> {
    digest
        .in_order()
        .into_iter()
        .map(|(domain, week)| {
            let totals = week.totals();
            let now = permille(totals.dmarc_pass, totals.messages);
            let before = digest
                .week_before
                .get(domain)
                .and_then(|b| permille(b.dmarc_pass, b.messages));
            let change = match (now, before) {
                (Some(now), Some(before)) => {
                    let (sign, points) = if now >= before {
                        ('+', now - before)
                    } else {
                        ('−', before - now)
                    };
                    format!("{sign}{}.{}", points / 10, points % 10)
                }
                _ => "-".to_owned(),
            };
            let unknown = week
                .by_sender()
                .iter()
                .filter(|(s, _)| s.class == SourceClass::Unknown)
                .map(|(_, t)| t.messages)
                .sum();
            let (canary, complaints) = match &week.ses {
                Some(ses) => (
                    if ses.probes_sent == 0 {
                        "-".to_owned()
                    } else {
                        format!("{}/{}", ses.probes_healthy, ses.probes_sent)
                    },
                    percent(permille(ses.complaints.saturating_mul(10), ses.deliveries))
                        .replace('%', "‰"),
                ),
                None => ("-".to_owned(), "-".to_owned()),
            };
            Row {
                tenant: week.tenant.clone(),
                domain: domain.clone(),
                policy: week.policy.clone().unwrap_or_else(|| "-".to_owned()),
                messages: totals.messages,
                pass: percent(now),
                change,
                spf: percent(permille(totals.spf_aligned, totals.messages)),
                dkim: percent(permille(totals.dkim_aligned, totals.messages)),
                held: totals
                    .disposition
                    .quarantine
                    .saturating_add(totals.disposition.reject),
                unknown,
                canary,
                complaints,
                readiness: readiness_cell(week),
            }
        })
        .collect()
}

/// The requirements of a domain's readiness with `status`, by name.
fn requirements_with(week: &DomainWeek, status: Status) -> Vec<&'static str> {
    week.readiness
        .iter()
        .flat_map(|(_, judged)| judged)
        .filter(|(_, s)| **s == status)
        .map(|(r, _)| r.as_str())
        .collect()
}

/// The all-domains table's readiness cell: the failed requirements, else how many are met.
fn readiness_cell(week: &DomainWeek) -> String {
    if week.readiness.is_none() {
        return "-".to_owned();
    }
    let failed = requirements_with(week, Status::Fail);
    if failed.is_empty() {
        let met = requirements_with(week, Status::Pass).len();
        let unknown = requirements_with(week, Status::Unknown).len();
        format!("{met} met, {unknown} unknown")
    } else {
        format!("fails {}", failed.join(", "))
    }
}

/// A domain's readiness in a sentence: the audit's day, then each status's requirements.
fn readiness_words(week: &DomainWeek) -> Option<String> {
    let (day, _) = week.readiness.as_ref()?;
    let mut parts = Vec::new();
    for (status, word) in [
        (Status::Fail, "fails"),
        (Status::Pass, "meets"),
        (Status::Unknown, "cannot judge"),
    ] {
        let requirements = requirements_with(week, status);
        if !requirements.is_empty() {
            parts.push(format!("{word} {}", requirements.join(", ")));
        }
    }
    Some(format!(
        "as the audit judged it on {}: {}",
        day_label(Some(*day)),
        parts.join("; ")
    ))
}

const COLUMNS: [&str; 12] = [
    "domain",
    "policy",
    "messages",
    "DMARC pass",
    "change (points)",
    "SPF aligned",
    "DKIM aligned",
    "quarantined + rejected",
    "unknown-source messages",
    "canary healthy/sent",
    "complaint rate",
    "bulk-sender readiness",
];

impl Row {
    fn cells(&self) -> [String; 12] {
        [
            self.domain.clone(),
            self.policy.clone(),
            self.messages.to_string(),
            self.pass.clone(),
            self.change.clone(),
            self.spf.clone(),
            self.dkim.clone(),
            self.held.to_string(),
            self.unknown.to_string(),
            self.canary.clone(),
            self.complaints.clone(),
            self.readiness.clone(),
        ]
    }
}

fn period_line(digest: &Digest) -> String {
    let period = match (digest.period.from, digest.period.to) {
        (Some(from), Some(to)) => {
            format!(
                "{} to {} (UTC)",
                utc_date(from),
                utc_date(to.saturating_sub(1))
            )
        }
        (Some(from), None) => format!("from {} (UTC)", utc_date(from)),
        (None, Some(to)) => format!("until {} (UTC)", utc_date(to.saturating_sub(1))),
        (None, None) => "every report given".to_owned(),
    };
    format!(
        "Period: {period}. {} report(s) from {} reporter(s), {} domain(s).",
        digest.reports,
        digest.reporters.len(),
        digest.domains.len()
    )
}

fn day_label(day: Option<u64>) -> String {
    day.map_or_else(|| "undated".to_owned(), utc_date)
}

/// The busiest of the bar's days: the bars' full width.
fn widest(days: &[(Option<u64>, u64, u64)]) -> u64 {
    days.iter()
        .map(|(_, pass, other)| pass.saturating_add(*other))
        .max()
        .unwrap_or(0)
}

fn tls_words(tls: crate::judge::digest::TlsFigures) -> String {
    format!(
        "{} session(s) succeeded, {} failed",
        tls.successful, tls.failed
    )
}

/// The days a domain's bar shows: every day of the period, or those with reports.
fn bar_days(digest: &Digest, week: &DomainWeek) -> Vec<(Option<u64>, u64, u64)> {
    let figures = |day: &Option<u64>| {
        week.days
            .get(day)
            .map(|d| {
                let t = d.totals();
                (t.dmarc_pass, t.messages.saturating_sub(t.dmarc_pass))
            })
            .unwrap_or((0, 0))
    };
    let days: Vec<Option<u64>> = match digest.period.days() {
        days if !days.is_empty() => days.into_iter().map(Some).collect(),
        _ => week.days.keys().copied().collect(),
    };
    days.into_iter()
        .map(|day| {
            let (pass, other) = figures(&day);
            (day, pass, other)
        })
        .collect()
}

fn source_label(sender: &Classified) -> String {
    match &sender.name {
        Some(name) => format!("{} ({name})", sender.class.as_str()),
        None => sender.class.as_str().to_owned(),
    }
}

fn dispositions_words(tally: &SourceTally) -> String {
    let d = &tally.disposition;
    format!(
        "none {}, quarantine {}, reject {}",
        d.none.saturating_add(d.pass),
        d.quarantine,
        d.reject
    )
}

/// The digest as text (the mail's plain part, `--format text`).
pub fn text(digest: &Digest, actions: &[Action]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", subject(digest, actions));
    let _ = writeln!(out, "{}", period_line(digest));
    let _ = writeln!(out, "\nWhat to fix first");
    if actions.is_empty() {
        let _ = writeln!(out, "  Nothing: every domain passed.");
    }
    for (n, action) in actions
        .iter()
        .take(crate::judge::digest::ACTIONS_SHOWN)
        .enumerate()
    {
        let domain = action
            .domain()
            .map(|d| format!("{d}: "))
            .unwrap_or_default();
        let _ = writeln!(out, "  {}. {domain}{}", n + 1, action_line(action));
    }
    if actions.len() > crate::judge::digest::ACTIONS_SHOWN {
        let _ = writeln!(
            out,
            "  … and {} more below.",
            actions.len() - crate::judge::digest::ACTIONS_SHOWN
        );
    }
    let _ = writeln!(out, "\nAll domains");
    let rows = rows(digest);
    let _ = writeln!(out, "  {}", COLUMNS.join(" | "));
    let mut tenant = None;
    for row in &rows {
        if row.tenant.is_some() && row.tenant != tenant {
            let _ = writeln!(
                out,
                "  SES tenant {}:",
                row.tenant.as_deref().unwrap_or_default()
            );
        } else if row.tenant.is_none() && tenant.is_some() {
            let _ = writeln!(out, "  No SES tenant:");
        }
        tenant.clone_from(&row.tenant);
        let _ = writeln!(out, "  {}", row.cells().join(" | "));
    }
    for (domain, week) in digest.in_order() {
        let _ = writeln!(out, "\n{domain}");
        if let Some(tenant) = &week.tenant {
            let _ = writeln!(out, "  SES tenant: {tenant}");
        }
        let days = bar_days(digest, week);
        let widest = widest(&days);
        let _ = writeln!(out, "  Daily (pass / other):");
        for (day, pass, other) in &days {
            // In u128: a stranger's counts may be near 2^64.
            let bar = |n: u64| {
                (u128::from(n) * 40)
                    .checked_div(u128::from(widest))
                    .map_or(0, |w| w.min(40) as usize)
            };
            let _ = writeln!(
                out,
                "    {:<10} {:>7} / {:<7} {}{}",
                day_label(*day),
                pass,
                other,
                "#".repeat(bar(*pass)),
                "x".repeat(bar(*other))
            );
        }
        let senders = week.by_sender();
        if senders.is_empty() {
            let _ = writeln!(out, "  Sources: none reported.");
        } else {
            let _ = writeln!(out, "  Sources:");
        }
        for (sender, tally) in &senders {
            let _ = writeln!(
                out,
                "    {:<32} {:>5} IP(s) {:>8} message(s), DMARC pass {}, aligned SPF {} DKIM {}; {}{}",
                source_label(sender),
                addresses(tally),
                tally.messages,
                percent(permille(tally.dmarc_pass, tally.messages)),
                percent(permille(tally.spf_aligned, tally.messages)),
                percent(permille(tally.dkim_aligned, tally.messages)),
                dispositions_words(tally),
                if digest.is_new(domain, sender) {
                    "  NEW this week"
                } else {
                    ""
                }
            );
        }
        if let Some(ses) = &week.ses {
            let _ = writeln!(out, "  SES: {}", ses_words(ses));
        }
        if let Some(readiness) = readiness_words(week) {
            let _ = writeln!(out, "  Bulk-sender readiness: {readiness}");
        }
        if !week.reporters.is_empty() {
            let reporters: Vec<&str> = week.reporters.iter().map(String::as_str).collect();
            let _ = writeln!(out, "  Reporters: {}", reporters.join(", "));
        }
        if let Some(tls) = week.tls {
            let _ = writeln!(out, "  TLS: {}", tls_words(tls));
        }
    }
    if !digest.not_believed.is_empty() {
        let _ = writeln!(out, "\nReports not believed (in no figure)");
        for n in &digest.not_believed {
            let _ = writeln!(out, "  {}", not_believed_words(n));
        }
    }
    out
}

fn not_believed_words(n: &crate::judge::digest::NotBelieved) -> String {
    format!(
        "{} about {}{}",
        n.reporter.as_deref().unwrap_or("an unnamed reporter"),
        n.domain.as_deref().unwrap_or("an unnamed domain"),
        n.mailed_from
            .as_deref()
            .map(|f| format!(", mailed as {f}"))
            .unwrap_or_else(|| ", mail that did not pass DMARC".to_owned())
    )
}

fn ses_words(ses: &crate::judge::digest::SesFigures) -> String {
    let mail_from = ses.mail_from.as_ref().map_or_else(
        || "MAIL FROM not read".to_owned(),
        |(status, domain)| format!("MAIL FROM {domain} {status}"),
    );
    let dkim = ses
        .dkim
        .as_deref()
        .map_or_else(|| "DKIM not read".to_owned(), |d| format!("DKIM {d}"));
    format!(
        "{mail_from}; {dkim}; canary {} of {} probe(s) arrived, {} healthy; {} deliveries, {} authentication bounce(s), {} complaint(s)",
        ses.probes_received,
        ses.probes_sent,
        ses.probes_healthy,
        ses.deliveries,
        ses.auth_bounces,
        ses.complaints
    )
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#1f2328;max-width:960px;margin:0 auto;padding:16px}\
h1{font-size:20px}h2{font-size:17px;margin-top:28px;border-bottom:1px solid #d0d7de}h3{font-size:14px}\
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:3px 6px;font-size:13px;text-align:right}\
th{background:#f6f8fa}td.l,th.l{text-align:left}ol li{margin:4px 0}\
table.bar td{border:none;padding:0;height:12px}td.pass{background:#2da44e}td.fail{background:#cf222e}\
.new{color:#9a6700;font-weight:bold}.note{color:#57606a;font-size:12px}";

/// The digest as one self-contained HTML document (the mail's HTML part, `--format html`).
pub fn html(digest: &Digest, actions: &[Action]) -> String {
    let mut out = String::new();
    let subject = escape(&subject(digest, actions));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{subject}</title><style>{STYLE}</style></head><body>\n<h1>{subject}</h1>\n<p>{}</p>\n",
        escape(&period_line(digest))
    );
    out.push_str("<h2>What to fix first</h2>\n");
    if actions.is_empty() {
        out.push_str("<p>Nothing: every domain passed.</p>\n");
    } else {
        out.push_str("<ol>\n");
        for action in actions.iter().take(crate::judge::digest::ACTIONS_SHOWN) {
            let domain = action
                .domain()
                .map(|d| format!("<b>{}</b>: ", escape(d)))
                .unwrap_or_default();
            let _ = writeln!(out, "<li>{domain}{}</li>", escape(&action_line(action)));
        }
        out.push_str("</ol>\n");
    }
    out.push_str("<h2>All domains</h2>\n<table><tr>");
    for (n, column) in COLUMNS.iter().enumerate() {
        let class = if n == 0 { " class=\"l\"" } else { "" };
        let _ = write!(out, "<th{class}>{}</th>", escape(column));
    }
    out.push_str("</tr>\n");
    let mut tenant = None;
    for row in rows(digest) {
        if row.tenant.is_some() && row.tenant != tenant {
            let _ = writeln!(
                out,
                "<tr><th class=\"l\" colspan=\"{}\">SES tenant {}</th></tr>",
                COLUMNS.len(),
                escape(row.tenant.as_deref().unwrap_or_default())
            );
        } else if row.tenant.is_none() && tenant.is_some() {
            let _ = writeln!(
                out,
                "<tr><th class=\"l\" colspan=\"{}\">No SES tenant</th></tr>",
                COLUMNS.len()
            );
        }
        tenant.clone_from(&row.tenant);
        out.push_str("<tr>");
        for (n, cell) in row.cells().iter().enumerate() {
            let class = if n == 0 { " class=\"l\"" } else { "" };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
    for (domain, week) in digest.in_order() {
        let totals = week.totals();
        let _ = writeln!(
            out,
            "<h2>{}</h2>\n<p>{} message(s), DMARC pass {}</p>",
            escape(domain),
            totals.messages,
            percent(permille(totals.dmarc_pass, totals.messages))
        );
        if let Some(tenant) = &week.tenant {
            let _ = writeln!(out, "<p>SES tenant: {}</p>", escape(tenant));
        }
        write_bars(&mut out, digest, week);
        write_sources(&mut out, digest, domain, week);
        if let Some(ses) = &week.ses {
            let _ = writeln!(out, "<h3>SES</h3><p>{}</p>", escape(&ses_words(ses)));
        }
        if let Some(readiness) = readiness_words(week) {
            let _ = writeln!(
                out,
                "<h3>Bulk-sender readiness</h3><p>{}</p>",
                escape(&readiness)
            );
        }
        if !week.reporters.is_empty() {
            let reporters: Vec<String> = week.reporters.iter().map(|r| escape(r)).collect();
            let _ = writeln!(out, "<h3>Reporters</h3><p>{}</p>", reporters.join(", "));
        }
        if let Some(tls) = week.tls {
            let _ = writeln!(out, "<h3>TLS</h3><p>{}</p>", tls_words(tls));
        }
    }
    if !digest.not_believed.is_empty() {
        out.push_str(
            "<h2>Reports not believed</h2><p class=\"note\">In no figure above.</p><ul>\n",
        );
        for n in &digest.not_believed {
            let _ = writeln!(out, "<li>{}</li>", escape(&not_believed_words(n)));
        }
        out.push_str("</ul>\n");
    }
    out.push_str("<p class=\"note\">ses-dmarc-monitor weekly digest.</p>\n</body></html>\n");
    out
}

fn write_bars(out: &mut String, digest: &Digest, week: &DomainWeek) {
    let days = bar_days(digest, week);
    let widest = widest(&days);
    out.push_str("<h3>Daily</h3>\n<table><tr><th class=\"l\">day</th><th>pass</th><th>other</th><th class=\"l\">pass / other</th></tr>\n");
    for (day, pass, other) in days {
        let width = |n: u64| {
            (u128::from(n) * 300)
                .checked_div(u128::from(widest))
                .map_or(0, |w| w.min(300) as u64)
        };
        let (pass_width, other_width) = (width(pass), width(other));
        let _ = write!(
            out,
            "<tr><td class=\"l\">{}</td><td>{pass}</td><td>{other}</td><td class=\"l\" style=\"width:310px\"><table class=\"bar\"><tr>",
            day_label(day)
        );
        if pass_width > 0 {
            let _ = write!(
                out,
                "<td class=\"pass\" style=\"width:{pass_width}px\"></td>"
            );
        }
        if other_width > 0 {
            let _ = write!(
                out,
                "<td class=\"fail\" style=\"width:{other_width}px\"></td>"
            );
        }
        if pass_width + other_width == 0 {
            out.push_str("<td></td>");
        }
        out.push_str("</tr></table></td></tr>\n");
    }
    out.push_str("</table>\n");
}

fn write_sources(out: &mut String, digest: &Digest, domain: &str, week: &DomainWeek) {
    let senders = week.by_sender();
    if senders.is_empty() {
        out.push_str("<p>No sources reported.</p>\n");
        return;
    }
    out.push_str("<h3>Sources</h3>\n<table><tr><th class=\"l\">class</th><th class=\"l\">name</th><th>IPs</th><th>messages</th><th>DMARC pass</th><th>SPF aligned</th><th>DKIM aligned</th><th class=\"l\">dispositions</th><th class=\"l\"></th></tr>\n");
    for (sender, tally) in &senders {
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            sender.class.as_str(),
            escape(sender.name.as_deref().unwrap_or("-")),
            addresses(tally),
            tally.messages,
            percent(permille(tally.dmarc_pass, tally.messages)),
            percent(permille(tally.spf_aligned, tally.messages)),
            percent(permille(tally.dkim_aligned, tally.messages)),
            dispositions_words(tally),
            if digest.is_new(domain, sender) {
                "<span class=\"new\">new this week</span>"
            } else {
                ""
            }
        );
    }
    out.push_str("</table>\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_leaves_no_markup() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
