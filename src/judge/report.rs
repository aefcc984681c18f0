//! What a receiver's report says about a domain's mail: each DMARC aggregate report summed
//! up ([`AggregateSummary`]), each row attributed to SES or not, and the findings that
//! follow. TLS reports give a finding when sessions failed.
//!
//! A row is SES's when a DKIM signature passed for `amazonses.com`, or its envelope or SPF
//! domain is under `amazonses.com` or is the identity's custom MAIL FROM domain. The source
//! IP alone says nothing (SES's ranges are shared and change). Rows a receiver let through by
//! an override (a forwarder, a mailing list, local policy) are not alerted: that mail was
//! delivered, and its authentication broke on the way.
//!
//! Pure: the identity's custom MAIL FROM domain comes from the caller (SESv2, `--mail-from`).

use crate::judge::align::{Alignment, PublicSuffixList, aligned};
use crate::judge::findings::Facts;
use crate::judge::policy::Disposition as Policy;
use crate::read::domain::is_within;
use crate::read::identity_state::CustomMailFrom;
use crate::read::report::aggregate::{
    AggregateReport, AuthResult, Disposition, Evaluated, OverrideType, Row,
};
use crate::read::report::tls::TlsReport;
use std::collections::BTreeSet;

/// Messages by what the receiver did with them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dispositions {
    pub none: u64,
    pub quarantine: u64,
    pub reject: u64,
    pub pass: u64,
    /// Missing, or a value this version does not know.
    pub unknown: u64,
}

/// A row's DMARC outcome at the receiver (`policy_evaluated`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowDmarc {
    /// DKIM or SPF passed aligned.
    Pass,
    /// Both were evaluated, and neither passed.
    Fail,
    /// Not both known: never counted as a failure.
    Unknown,
}

/// One raw DKIM or SPF result of a row, and whether its domain aligns with the row's From.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthLine {
    pub domain: Option<String>,
    pub result: Option<AuthResult>,
    pub aligned: bool,
}

/// One row (a source and its messages), judged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendingSource {
    pub ip: Option<String>,
    pub count: u64,
    pub disposition: Option<Disposition>,
    pub header_from: Option<String>,
    pub envelope_from: Option<String>,
    pub dkim: Vec<AuthLine>,
    pub spf: Vec<AuthLine>,
    pub dmarc: RowDmarc,
    pub ses: bool,
    /// Envelope or SPF domain under amazonses.com: SES's own MAIL FROM.
    pub amazonses_envelope: bool,
    /// The receiver overrode the policy for a forwarder, list or local policy.
    pub overridden: bool,
}

/// One DMARC aggregate report, summed up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AggregateSummary {
    pub messages: u64,
    pub dmarc_pass: u64,
    pub dmarc_fail: u64,
    pub dmarc_unknown: u64,
    pub disposition: Dispositions,
    pub amazonses_envelope: u64,
    pub ses_messages: u64,
    pub sources: Vec<SendingSource>,
}

/// Sums up `report`; `mail_from` is the custom MAIL FROM domain of the identity covering
/// the policy domain, when it has one. The rows move into the summary's sources, each with
/// what it means (`report.rows` is left empty): a report can hold tens of thousands, and
/// nothing reads them twice.
pub fn summarize(report: &mut AggregateReport, mail_from: Option<&str>) -> AggregateSummary {
    let adkim = mode(report.policy.adkim.as_deref());
    let aspf = mode(report.policy.aspf.as_deref());
    let sources: Vec<SendingSource> = report
        .rows
        .drain(..)
        .map(|row| source(row, report.policy.domain.as_deref(), adkim, aspf, mail_from))
        .collect();
    let mut summary = AggregateSummary {
        messages: 0,
        dmarc_pass: 0,
        dmarc_fail: 0,
        dmarc_unknown: 0,
        disposition: Dispositions::default(),
        amazonses_envelope: 0,
        ses_messages: 0,
        sources: Vec::new(),
    };
    for source in &sources {
        let n = source.count;
        summary.messages += n;
        match source.dmarc {
            RowDmarc::Pass => summary.dmarc_pass += n,
            RowDmarc::Fail => summary.dmarc_fail += n,
            RowDmarc::Unknown => summary.dmarc_unknown += n,
        }
        let bucket = match &source.disposition {
            Some(Disposition::None) => &mut summary.disposition.none,
            Some(Disposition::Quarantine) => &mut summary.disposition.quarantine,
            Some(Disposition::Reject) => &mut summary.disposition.reject,
            Some(Disposition::Pass) => &mut summary.disposition.pass,
            Some(Disposition::Unknown(_)) | None => &mut summary.disposition.unknown,
        };
        *bucket += n;
        if source.amazonses_envelope {
            summary.amazonses_envelope += n;
        }
        if source.ses {
            summary.ses_messages += n;
        }
    }
    summary.sources = sources;
    summary
}

fn mode(tag: Option<&str>) -> Alignment {
    match tag {
        Some(t) if t.trim().eq_ignore_ascii_case("s") => Alignment::Strict,
        _ => Alignment::Relaxed,
    }
}

fn source(
    row: Row,
    policy_domain: Option<&str>,
    adkim: Alignment,
    aspf: Alignment,
    mail_from: Option<&str>,
) -> SendingSource {
    let from = row.header_from.as_deref().or(policy_domain);
    let line = |domain: Option<String>, result: Option<AuthResult>, mode| AuthLine {
        aligned: matches!((&domain, from), (Some(d), Some(f)) if aligned(d, f, mode, &PublicSuffixList)),
        domain,
        result,
    };
    let amazonses = |d: &str| is_within(d, "amazonses.com");
    let dkim_passed_for_ses = row
        .dkim_results
        .iter()
        .any(|d| d.result == Some(AuthResult::Pass) && d.domain.as_deref().is_some_and(amazonses));
    let envelope_domains = || {
        row.envelope_from
            .iter()
            .chain(row.spf_results.iter().filter_map(|s| s.domain.as_ref()))
    };
    let amazonses_envelope = envelope_domains().any(|d| amazonses(d));
    let ses = amazonses_envelope
        || envelope_domains().any(|d| Some(d.as_str()) == mail_from)
        || dkim_passed_for_ses;
    let dmarc = match (&row.dkim, &row.spf) {
        (Some(Evaluated::Pass), _) | (_, Some(Evaluated::Pass)) => RowDmarc::Pass,
        (Some(Evaluated::Fail), Some(Evaluated::Fail)) => RowDmarc::Fail,
        _ => RowDmarc::Unknown,
    };
    let overridden = row.reasons.iter().any(|r| {
        matches!(
            r.kind,
            Some(
                OverrideType::Forwarded
                    | OverrideType::TrustedForwarder
                    | OverrideType::MailingList
                    | OverrideType::LocalPolicy
            )
        )
    });
    let dkim = row
        .dkim_results
        .into_iter()
        .map(|d| line(d.domain, d.result, adkim))
        .collect();
    let spf = row
        .spf_results
        .into_iter()
        .map(|s| line(s.domain, s.result, aspf))
        .collect();
    SendingSource {
        ip: row.source_ip,
        count: row.count.unwrap_or(0),
        disposition: row.disposition,
        header_from: row.header_from,
        envelope_from: row.envelope_from,
        dkim,
        spf,
        dmarc,
        ses,
        amazonses_envelope,
        overridden,
    }
}

/// What one report says, as findings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judging<'a> {
    /// The identity's custom MAIL FROM, when it has one.
    pub custom: Option<&'a CustomMailFrom>,
    /// Messages from one non-SES source failing DMARC before it is reported.
    pub unknown_source_threshold: u64,
    /// Whether the report's own mail passed DMARC (`None`: not received as mail, a file).
    pub authentic: Option<bool>,
    /// The sources seen sending as the domain before (the state table's history); `None`
    /// without history, when every failing source that is not SES counts as unknown.
    pub known_sources: Option<&'a BTreeSet<String>>,
}

/// The findings of one aggregate report.
pub fn aggregate_findings(
    report: &AggregateReport,
    summary: &AggregateSummary,
    judging: Judging<'_>,
) -> Vec<Facts> {
    let reporter = report
        .org_name
        .clone()
        .unwrap_or_else(|| "a receiver".into());
    let range = (report.begin, report.end);
    if judging.authentic == Some(false) {
        // Anyone can mail a report: its rows are counted, never believed.
        return vec![Facts::ReportUnauthenticated {
            reporter,
            messages: summary.messages,
        }];
    }
    let alerted = |s: &&SendingSource| !s.overridden;
    let mut findings = Vec::new();
    if let Some(custom) = judging.custom {
        let fallback: u64 = summary
            .sources
            .iter()
            .filter(alerted)
            .filter(|s| s.amazonses_envelope)
            .map(|s| s.count)
            .sum();
        if fallback > 0 {
            findings.push(Facts::ReportMailFromFallback {
                reporter: reporter.clone(),
                messages: fallback,
                range,
                custom: custom.clone(),
            });
        }
    }
    let ses_failing: u64 = summary
        .sources
        .iter()
        .filter(alerted)
        .filter(|s| s.ses && s.dmarc == RowDmarc::Fail)
        .map(|s| s.count)
        .sum();
    if ses_failing > 0 {
        let policy = report
            .policy
            .p
            .as_deref()
            .and_then(Policy::from_text)
            .filter(|_| !report.policy.testing);
        findings.push(Facts::ReportDmarcFail {
            reporter: reporter.clone(),
            messages: ses_failing,
            range,
            policy,
        });
    }
    let known = |source: &SendingSource| {
        judging
            .known_sources
            .zip(source.ip.as_ref())
            .is_some_and(|(known, ip)| known.contains(ip))
    };
    for source in summary.sources.iter().filter(alerted) {
        if !source.ses
            && source.dmarc == RowDmarc::Fail
            && source.count >= judging.unknown_source_threshold
            && !known(source)
        {
            findings.push(Facts::ReportUnknownSource {
                reporter: reporter.clone(),
                source_ip: source.ip.clone(),
                messages: source.count,
            });
        }
    }
    findings
}

/// The finding of one TLS report, when sessions failed.
pub fn tls_findings(report: &TlsReport) -> Option<Facts> {
    let failed = report.failed();
    (failed > 0).then(|| Facts::TlsRptFailure {
        reporter: report.org_name.clone().unwrap_or_else(|| "a sender".into()),
        failed,
        successful: report.successful(),
        failures: report
            .policies
            .iter()
            .flat_map(|p| p.failures.iter().cloned())
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::judge::findings::Kind;

    /// A report for example.com (`p`, `testing`) with one record: `evaluated` is
    /// `policy_evaluated`'s `(dkim, spf)`, then the envelope and the raw results.
    fn one_row(
        p: &str,
        count: u64,
        evaluated: (&str, &str),
        envelope: &str,
        auth: &str,
        reason: &str,
    ) -> AggregateReport {
        let xml = format!(
            "<feedback><report_metadata><org_name>rx.example</org_name><report_id>1</report_id>\
             </report_metadata><policy_published><domain>example.com</domain><p>{p}</p>\
             </policy_published><record><row><source_ip>192.0.2.7</source_ip><count>{count}</count>\
             <policy_evaluated><disposition>none</disposition><dkim>{}</dkim><spf>{}</spf>{reason}\
             </policy_evaluated></row><identifiers><header_from>example.com</header_from>\
             <envelope_from>{envelope}</envelope_from></identifiers><auth_results>{auth}</auth_results>\
             </record></feedback>",
            evaluated.0, evaluated.1
        );
        crate::read::report::aggregate::parse(&xml).unwrap_or_else(|e| panic!("{e}"))
    }

    const SES_DKIM: &str = "<dkim><domain>amazonses.com</domain><result>pass</result></dkim>";
    const OWN_DKIM: &str = "<dkim><domain>example.com</domain><result>pass</result></dkim>";
    const FORWARDED: &str = "<reason><type>forwarded</type></reason>";

    #[test]
    fn each_row_is_attributed_and_judged() {
        let custom = CustomMailFrom {
            identity: "example.com".into(),
            mail_from: "mail.example.com".into(),
        };
        let known: BTreeSet<String> = ["192.0.2.7".to_owned()].into();
        // (case, report, custom MAIL FROM, known sources, row: (dmarc, ses, amazonses envelope),
        //  finding kinds)
        type Case = (
            &'static str,
            AggregateReport,
            bool,
            Option<&'static BTreeSet<String>>,
            (RowDmarc, bool, bool),
            Vec<Kind>,
        );
        let known: &'static BTreeSet<String> = Box::leak(Box::new(known));
        let cases: Vec<Case> = vec![
            (
                "SES via the custom MAIL FROM, aligned",
                one_row(
                    "reject",
                    90,
                    ("pass", "pass"),
                    "mail.example.com",
                    OWN_DKIM,
                    "",
                ),
                true,
                None,
                (RowDmarc::Pass, true, false),
                vec![],
            ),
            (
                "the fallback: amazonses.com envelope, DKIM broken",
                one_row(
                    "reject",
                    7,
                    ("fail", "fail"),
                    "us-east-1.amazonses.com",
                    SES_DKIM,
                    "",
                ),
                true,
                None,
                (RowDmarc::Fail, true, true),
                vec![Kind::ReportMailFromFallback, Kind::ReportDmarcFail],
            ),
            (
                "the fallback with DKIM aligned still passes DMARC",
                one_row(
                    "reject",
                    7,
                    ("pass", "fail"),
                    "us-east-1.amazonses.com",
                    OWN_DKIM,
                    "",
                ),
                true,
                None,
                (RowDmarc::Pass, true, true),
                vec![Kind::ReportMailFromFallback],
            ),
            (
                "no custom MAIL FROM: an amazonses.com envelope is no fallback",
                one_row(
                    "reject",
                    7,
                    ("pass", "fail"),
                    "us-east-1.amazonses.com",
                    SES_DKIM,
                    "",
                ),
                false,
                None,
                (RowDmarc::Pass, true, true),
                vec![],
            ),
            (
                "a stranger failing, at the threshold",
                one_row("reject", 10, ("fail", "fail"), "spoof.example", "", ""),
                true,
                None,
                (RowDmarc::Fail, false, false),
                vec![Kind::ReportUnknownSource],
            ),
            (
                "a stranger failing, under the threshold",
                one_row("reject", 9, ("fail", "fail"), "spoof.example", "", ""),
                true,
                None,
                (RowDmarc::Fail, false, false),
                vec![],
            ),
            (
                "a failing source seen before is known",
                one_row("reject", 50, ("fail", "fail"), "spoof.example", "", ""),
                true,
                Some(known),
                (RowDmarc::Fail, false, false),
                vec![],
            ),
            (
                "forwarded: the receiver let it through, never alerted",
                one_row(
                    "reject",
                    30,
                    ("fail", "fail"),
                    "us-east-1.amazonses.com",
                    SES_DKIM,
                    FORWARDED,
                ),
                true,
                None,
                (RowDmarc::Fail, true, true),
                vec![],
            ),
            (
                "one result missing: unknown, never a failure",
                one_row("reject", 5, ("fail", ""), "mail.example.com", OWN_DKIM, ""),
                true,
                None,
                (RowDmarc::Unknown, true, false),
                vec![],
            ),
        ];
        for (case, mut report, with_custom, known_sources, row, kinds) in cases {
            let custom = with_custom.then_some(&custom);
            let summary = summarize(&mut report, custom.map(|c| c.mail_from.as_str()));
            let source = &summary.sources[0];
            assert_eq!(
                (source.dmarc, source.ses, source.amazonses_envelope),
                row,
                "{case}"
            );
            let judging = Judging {
                custom,
                unknown_source_threshold: 10,
                authentic: Some(true),
                known_sources,
            };
            let found: Vec<Kind> = aggregate_findings(&report, &summary, judging)
                .iter()
                .map(Facts::kind)
                .collect();
            assert_eq!(found, kinds, "{case}");
        }
    }

    #[test]
    fn an_unauthenticated_report_says_only_that() {
        let mut report = one_row(
            "reject",
            7,
            ("fail", "fail"),
            "us-east-1.amazonses.com",
            SES_DKIM,
            "",
        );
        let summary = summarize(&mut report, None);
        let judging = Judging {
            custom: None,
            unknown_source_threshold: 1,
            authentic: Some(false),
            known_sources: None,
        };
        let found: Vec<Kind> = aggregate_findings(&report, &summary, judging)
            .iter()
            .map(Facts::kind)
            .collect();
        assert_eq!(found, [Kind::ReportUnauthenticated]);
    }
}
