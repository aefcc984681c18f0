//! What the posture audit asks DNS: the MAIL FROM domain's MX and TXT, the DKIM records, and
//! the DMARC policy, each asked straight of the resolver (no cache: the audit wants today's
//! answer). A failed lookup is reported as such, never as a missing record.

use super::DnsFacts;
use crate::judge::policy::PolicyDiscovery;
use crate::judge::posture::{DnsView, Lookup, Target, report_authorizations};
use crate::ports::dns::AuditDns;
use mail_auth::hickory_resolver::proto::rr::{RData, RecordType};

impl DnsFacts {
    /// One DNS question, straight to the resolver (no cache: the audit wants today's answer).
    async fn ask(&self, name: &str, kind: RecordType) -> Lookup<Vec<RData>> {
        let fqdn = format!("{}.", name.trim_end_matches('.'));
        match self
            .authenticator
            .resolver()
            .lookup(fqdn.as_str(), kind)
            .await
        {
            Ok(lookup) => {
                let data: Vec<RData> = lookup
                    .answers()
                    .iter()
                    .filter(|r| r.record_type() == kind)
                    .map(|r| r.data.clone())
                    .collect();
                if data.is_empty() {
                    Lookup::Missing
                } else {
                    Lookup::Found(data)
                }
            }
            Err(error) if error.is_nx_domain() || error.is_no_records_found() => Lookup::Missing,
            Err(error) => Lookup::Failed(error.to_string()),
        }
    }
}

impl AuditDns for DnsFacts {
    /// Everything the audit of `target` asks DNS.
    async fn audit_view(&self, target: &Target) -> DnsView {
        let mut view = DnsView {
            mail_from_mx: None,
            mail_from_txt: None,
            dkim: Vec::new(),
            dmarc: Lookup::Missing,
            report_authorizations: Vec::new(),
        };
        if let Some(mail_from) = &target.mail_from_domain {
            view.mail_from_mx =
                Some(map_found(
                    self.ask(mail_from, RecordType::MX).await,
                    |d| match d {
                        RData::MX(mx) => Some((mx.preference, name_text(&mx.exchange))),
                        _ => None,
                    },
                ));
            view.mail_from_txt = Some(map_found(
                self.ask(mail_from, RecordType::TXT).await,
                txt_text,
            ));
        }
        for name in target.dkim_names() {
            let answer = if name.byodkim {
                map_found(self.ask(&name.name, RecordType::TXT).await, txt_text)
            } else {
                map_found(self.ask(&name.name, RecordType::CNAME).await, |d| match d {
                    RData::CNAME(cname) => Some(name_text(&cname.0)),
                    _ => None,
                })
            };
            view.dkim.push((name, answer));
        }
        view.dmarc = match self.discover(&target.domain).await {
            Ok(discovery) => Lookup::Found(discovery),
            Err(error) => Lookup::Failed(error.to_string()),
        };
        if let Lookup::Found(PolicyDiscovery {
            record: Some((at, record)),
            ..
        }) = &view.dmarc
        {
            let rua: Vec<&str> = record.rua().iter().map(|uri| uri.uri.as_str()).collect();
            for authorization in report_authorizations(at, &rua) {
                let answer = map_found(
                    self.ask(&authorization.name, RecordType::TXT).await,
                    txt_text,
                );
                view.report_authorizations.push((authorization, answer));
            }
        }
        view
    }
}

fn map_found<T>(answer: Lookup<Vec<RData>>, f: impl Fn(&RData) -> Option<T>) -> Lookup<Vec<T>> {
    match answer {
        Lookup::Found(data) => {
            let values: Vec<T> = data.iter().filter_map(f).collect();
            if values.is_empty() {
                Lookup::Missing
            } else {
                Lookup::Found(values)
            }
        }
        Lookup::Missing => Lookup::Missing,
        Lookup::Failed(error) => Lookup::Failed(error),
    }
}

fn name_text(name: &mail_auth::hickory_resolver::proto::rr::Name) -> String {
    name.to_ascii().trim_end_matches('.').to_ascii_lowercase()
}

/// A TXT record's character-strings joined, as SPF and DKIM read them.
fn txt_text(data: &RData) -> Option<String> {
    match data {
        RData::TXT(txt) => Some(
            txt.txt_data
                .iter()
                .map(|part| String::from_utf8_lossy(part))
                .collect::<String>(),
        ),
        _ => None,
    }
}
