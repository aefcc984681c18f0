//! What the posture audit asks DNS: the MAIL FROM domain's MX and TXT, the DKIM records, and
//! the DMARC policy, each asked straight of the resolver (no cache: the audit wants today's
//! answer); and for bulk-sender readiness, a sending address's reverse DNS and the forward
//! lookup that confirms it. A failed lookup is reported as such, never as a missing record.

use super::DnsFacts;
use crate::judge::bulk::SendingAddress;
use crate::judge::policy::PolicyDiscovery;
use crate::judge::posture::{DnsView, Lookup, Target, report_authorizations};
use crate::ports::dns::AuditDns;
use crate::read::domain::is_within;
use mail_auth::hickory_resolver::proto::rr::{RData, RecordType};
use std::net::IpAddr;

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

    async fn sending_address(&self, ip: IpAddr) -> SendingAddress {
        let names = match self.ask(&reverse_name(ip), RecordType::PTR).await {
            Lookup::Found(data) => data
                .iter()
                .filter_map(|d| match d {
                    RData::PTR(ptr) => Some(name_text(&ptr.0)),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        };
        let mut verified_name = None;
        // Forward-confirmed: one of the names resolves back to the address (RFC 8601's iprev).
        for name in names.iter().take(4) {
            let kind = if ip.is_ipv4() {
                RecordType::A
            } else {
                RecordType::AAAA
            };
            if let Lookup::Found(data) = self.ask(name, kind).await
                && data.iter().any(|d| match d {
                    RData::A(a) => IpAddr::V4(a.0) == ip,
                    RData::AAAA(aaaa) => IpAddr::V6(aaaa.0) == ip,
                    _ => false,
                })
            {
                verified_name = Some(name.clone());
                break;
            }
        }
        SendingAddress {
            ip: ip.to_string(),
            ses_shared: names.iter().any(|n| is_within(n, "amazonses.com")),
            verified_name,
        }
    }
}

/// The name an address's PTR record is at: `in-addr.arpa` (IPv4) or `ip6.arpa` nibbles.
fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, d] = v4.octets();
            format!("{d}.{c}.{b}.{a}.in-addr.arpa")
        }
        IpAddr::V6(v6) => {
            let mut name = String::with_capacity(72);
            for byte in v6.octets().iter().rev() {
                name.push_str(&format!("{:x}.{:x}.", byte & 0xf, byte >> 4));
            }
            name.push_str("ip6.arpa");
            name
        }
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

#[cfg(test)]
mod tests {
    use super::reverse_name;

    #[test]
    fn reverse_names_as_rfc_1035_and_3596_write_them() {
        let cases = [
            ("192.0.2.10", "10.2.0.192.in-addr.arpa"),
            (
                "2001:db8::567:89ab",
                "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa",
            ),
        ];
        for (ip, name) in cases {
            let ip = ip.parse().unwrap_or_else(|e| panic!("{ip}: {e}"));
            assert_eq!(reverse_name(ip), name);
        }
    }
}
