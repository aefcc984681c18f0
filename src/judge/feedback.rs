//! What one SES feedback notification means: authentication rejections among its bounces and
//! delays (`auth_bounce`), `auth-failure` complaints (`auth_complaint`), and the sending
//! identity's MAIL FROM state (`mail_from_status`).
//!
//! Pure: the identity state arrives from the caller (the analysis flow looks it up through the
//! `IdentityDirectory` port). Recipient addresses never reach this module, only their domains.

use crate::judge::auth_rejection::{self, AuthRejection, Diagnosis};
use crate::judge::findings::{Evidence, Facts, Finding, Rejected, Sending};
use crate::read::domain::{domain_of_identity, domains_of_address_list};
use crate::read::identity_state::{IdentityState, MailFromStatus};
use crate::read::notification::{Event, FeedbackType, Form, IdentityArn, Notification, Recipient};
use crate::read::observation::{HeaderField, Source};
use std::collections::BTreeSet;
use std::sync::Arc;

/// What the notification says, for reports and logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedbackSummary {
    pub form: Form,
    /// The event type as AWS names it (`Bounce`, `Rendering Failure`, …).
    pub event: String,
    pub message_id: Option<String>,
    pub identity: Option<IdentityArn>,
    /// The From domains: original headers, else `commonHeaders`, else `ses:from-domain`,
    /// else the source address.
    pub from_domains: Vec<String>,
    pub configuration_set: Option<String>,
    /// What happened, to how many recipients at which domains (`say::explain::happened`).
    pub happened: Happened,
    /// `d=` of DKIM signatures the sender added itself (visible with original headers).
    pub sender_dkim_domains: Vec<String>,
    /// Values AWS sent that this version does not know (`bounceSubType Foo`): counted, logged.
    pub unknown_values: Vec<String>,
    pub notes: Vec<String>,
}

/// What a notification says happened to the mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Happened {
    Bounced {
        bounce_type: String,
        sub_type: String,
        recipients: Recipients,
    },
    Delayed {
        delay_type: String,
        recipients: Recipients,
    },
    Complained {
        feedback_type: Option<String>,
        recipients: Recipients,
    },
    Delivered(Recipients),
    Rejected {
        reason: Option<String>,
    },
    RenderingFailed {
        template: Option<String>,
    },
    Sent,
    Opened,
    Clicked,
    SubscriptionChanged,
    /// An event type this version does not know.
    Unknown(String),
}

/// How many recipients, and their domains (sorted, each once; never an address).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recipients {
    pub count: usize,
    pub domains: Vec<String>,
}

impl FeedbackSummary {
    /// The identity to look up: the one `sourceArn` names, else the From domain.
    pub fn identity_key(&self) -> Option<&str> {
        self.identity
            .as_ref()
            .map(|i| i.identity.as_str())
            .or_else(|| self.from_domains.first().map(String::as_str))
    }

    /// The domain findings are about: the From domain, else the identity's domain.
    pub fn domain(&self) -> Option<&str> {
        self.from_domains.first().map(String::as_str).or_else(|| {
            self.identity
                .as_ref()
                .map(|i| i.identity.rsplit('@').next().unwrap_or(&i.identity))
        })
    }

    /// Which input kind the notification came from.
    pub fn form_source(&self) -> Source {
        match self.form {
            Form::IdentityNotification => Source::SesNotification,
            Form::EventPublishing => Source::EventPublishing,
        }
    }
}

/// Reads a notification into its summary.
pub fn summarize(notification: &Notification) -> FeedbackSummary {
    let mail = &notification.mail;
    let mut notes = Vec::new();
    let identity = mail.source_arn.as_deref().and_then(|arn| {
        let parsed = IdentityArn::parse(arn);
        if parsed.is_none() {
            notes.push(format!("mail.sourceArn {arn:?} is not an SES identity ARN"));
        }
        parsed
    });

    let headers = &mail.headers;
    let mut from_domains: Vec<String> = headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("From"))
        .flat_map(|h| domains_of_address_list(h.value()))
        .collect();
    if from_domains.is_empty()
        && let Some(common) = &mail.common_headers
    {
        from_domains.extend(common.from.iter().flat_map(|f| domains_of_address_list(f)));
    }
    if from_domains.is_empty() {
        from_domains.extend(mail.tag("ses:from-domain").and_then(domain_of_identity));
    }
    if from_domains.is_empty() {
        from_domains.extend(mail.source_domain.clone());
    }
    from_domains.dedup();

    let sender_dkim_domains: Vec<String> = headers
        .iter()
        .filter(|h| h.name().eq_ignore_ascii_case("DKIM-Signature"))
        .filter_map(|h| mail_auth::dkim::Signature::parse(h.value().as_bytes()).ok())
        .filter_map(|sig| crate::read::domain::normalize(&sig.d))
        .collect();

    let mut unknown_values = Vec::new();
    let happened = match &notification.event {
        Event::Bounce(bounce) => {
            if !bounce.bounce_type.is_known() {
                unknown_values.push(format!("bounceType {}", bounce.bounce_type));
            }
            if !bounce.bounce_sub_type.is_known() {
                unknown_values.push(format!("bounceSubType {}", bounce.bounce_sub_type));
            }
            Happened::Bounced {
                bounce_type: bounce.bounce_type.to_string(),
                sub_type: bounce.bounce_sub_type.to_string(),
                recipients: Recipients::of(&bounce.bounced_recipients),
            }
        }
        Event::DeliveryDelay(delay) => {
            if !delay.delay_type.is_known() {
                unknown_values.push(format!("delayType {}", delay.delay_type));
            }
            Happened::Delayed {
                delay_type: delay.delay_type.to_string(),
                recipients: Recipients::of(&delay.delayed_recipients),
            }
        }
        Event::Complaint(complaint) => {
            if let Some(t) = complaint
                .complaint_feedback_type
                .as_ref()
                .filter(|t| !t.is_known())
            {
                unknown_values.push(format!("complaintFeedbackType {t}"));
            }
            Happened::Complained {
                feedback_type: complaint
                    .complaint_feedback_type
                    .as_ref()
                    .map(ToString::to_string),
                recipients: Recipients::of(&complaint.complained_recipients),
            }
        }
        Event::Delivery(delivery) => Happened::Delivered(Recipients {
            count: delivery.recipients.len(),
            domains: delivery
                .recipients
                .iter()
                .map(String::as_str)
                .collect::<BTreeSet<_>>()
                .into_iter()
                .map(str::to_owned)
                .collect(),
        }),
        Event::Reject(reject) => Happened::Rejected {
            reason: reject.reason.clone(),
        },
        Event::RenderingFailure(failure) => Happened::RenderingFailed {
            template: failure.template_name.clone(),
        },
        Event::Send => Happened::Sent,
        Event::Open => Happened::Opened,
        Event::Click => Happened::Clicked,
        Event::Subscription => Happened::SubscriptionChanged,
        Event::Unknown(name) => {
            unknown_values.push(format!("event type {name}"));
            Happened::Unknown(name.clone())
        }
    };

    FeedbackSummary {
        form: notification.form,
        event: notification.event.name().to_owned(),
        message_id: mail.message_id.clone(),
        identity,
        from_domains,
        configuration_set: mail.tag("ses:configuration-set").map(str::to_owned),
        happened,
        sender_dkim_domains,
        unknown_values,
        notes,
    }
}

impl Recipients {
    fn of(list: &[Recipient]) -> Self {
        Self {
            count: list.len(),
            domains: list
                .iter()
                .filter_map(|r| r.domain.clone())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect(),
        }
    }
}

/// The findings of one notification. `identity` is the state governing the sending identity
/// (its own, or its domain's for an address identity), when known.
pub fn findings(
    notification: &Notification,
    summary: &FeedbackSummary,
    identity: Option<(&str, &IdentityState)>,
) -> Vec<Finding> {
    let sending = Sending {
        identity: summary.identity.clone(),
        configuration_set: summary.configuration_set.clone(),
    };
    let mut found: Vec<Facts> = match &notification.event {
        Event::Bounce(bounce) => auth_rejections(
            &bounce.bounced_recipients,
            Rejected::Bounced,
            summary,
            &sending,
        ),
        Event::DeliveryDelay(delay) => auth_rejections(
            &delay.delayed_recipients,
            Rejected::Delayed,
            summary,
            &sending,
        ),
        Event::Complaint(complaint)
            if complaint.complaint_feedback_type == Some(FeedbackType::AuthFailure) =>
        {
            let at: BTreeSet<&str> = complaint
                .complained_recipients
                .iter()
                .filter_map(|r| r.domain.as_deref())
                .collect();
            vec![Facts::AuthComplaint {
                recipient_domains: at.into_iter().map(str::to_owned).collect(),
                sending: sending.clone(),
            }]
        }
        _ => Vec::new(),
    };
    found.extend(identity.and_then(|(name, state)| mail_from_status(name, state, summary)));
    if found.is_empty() {
        return Vec::new();
    }
    let evidence = Arc::new(Evidence::Feedback {
        event: summary.event.clone(),
        happened: summary.happened.clone(),
        sending,
        governing: identity.and_then(|(name, state)| {
            let attributes = state.mail_from_attributes.clone()?;
            Some((name.to_owned(), attributes))
        }),
    });
    let id = summary.message_id.as_deref();
    let source = summary.form_source();
    found
        .into_iter()
        .map(|facts| {
            Finding::new(facts, summary.domain(), source)
                .about(id)
                .with_evidence(&evidence)
        })
        .collect()
}

/// One `auth_bounce` per distinct rejection (provider, code, what failed), naming the
/// recipient domains it came from.
fn auth_rejections(
    recipients: &[Recipient],
    how: Rejected,
    summary: &FeedbackSummary,
    sending: &Sending,
) -> Vec<Facts> {
    let mut groups: Vec<(AuthRejection, Vec<Option<String>>)> = Vec::new();
    for recipient in recipients {
        let Diagnosis::Auth(rejection) = auth_rejection::diagnose(
            recipient.status.as_deref(),
            recipient.diagnostic_code.as_deref(),
        ) else {
            continue;
        };
        let at = recipient.domain.clone();
        match groups.iter_mut().find(|(r, _)| *r == rejection) {
            Some((_, domains)) if !domains.contains(&at) => domains.push(at),
            Some(_) => {}
            None => groups.push((rejection, vec![at])),
        }
    }
    groups
        .into_iter()
        .map(|(rejection, recipient_domains)| Facts::AuthBounce {
            rejection,
            how,
            recipient_domains,
            sending: sending.clone(),
            sender_dkim: summary.sender_dkim_domains.clone(),
        })
        .collect()
}

/// `mail_from_status` when a custom MAIL FROM domain is configured and SES does not report it
/// healthy.
fn mail_from_status(
    identity: &str,
    state: &IdentityState,
    summary: &FeedbackSummary,
) -> Option<Facts> {
    let attributes = state.mail_from_attributes.as_ref()?;
    let mail_from = state.mail_from_domain()?;
    let status = attributes.mail_from_domain_status.as_ref()?;
    if *status == MailFromStatus::Success {
        return None;
    }
    Some(Facts::MailFromStatus {
        identity: identity.to_owned(),
        mail_from: mail_from.to_owned(),
        status: status.clone(),
        behavior: attributes.behavior_on_mx_failure.clone(),
        region: summary.identity.as_ref().map(|i| i.region.clone()),
    })
}
