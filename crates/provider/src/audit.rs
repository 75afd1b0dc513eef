//! Audit hooks: every security-relevant step of a sign-in (and later of the
//! account API) becomes an event in the store, listed per subject.
//!
//! Recording is best effort: a failure to append is logged (without
//! secrets) and does not turn a successful sign-in into an error. Changes to
//! a second factor (devices added or removed, recovery codes, trusted
//! browsers revoked) are the exception: they hand their [`event`] to the
//! store, which appends it in the same atomic step as the change (see
//! `store`), so a change and its trace are never apart.

use std::collections::BTreeMap;

use time::OffsetDateTime;

use crate::store::{AuditAction, NewAuditEvent, Store};

/// Who is acting, from where.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: String,
    pub user_agent: Option<String>,
}

pub async fn record(
    store: &dyn Store,
    origin: &Origin,
    action: AuditAction,
    subject: &str,
    actor: Option<&str>,
    details: &[(&str, &str)],
) {
    append(store, &event(origin, action, subject, actor, None, details)).await
}

/// Appends `event` on its own, best effort: a store that refuses it is
/// logged, not an error.
pub async fn append(store: &dyn Store, event: &NewAuditEvent) {
    if let Err(e) = store.append_audit(event).await {
        tracing::warn!(
            action = event.action.as_str(),
            subject = event.subject,
            error = %e,
            "audit event not recorded"
        );
    }
    logged(event);
}

/// The event, stamped now.
pub fn event(
    origin: &Origin,
    action: AuditAction,
    subject: &str,
    actor: Option<&str>,
    reason: Option<&str>,
    details: &[(&str, &str)],
) -> NewAuditEvent {
    NewAuditEvent {
        at: OffsetDateTime::now_utc(),
        actor: actor.map(str::to_owned),
        subject: subject.to_owned(),
        action,
        reason: reason.map(str::to_owned),
        client_ip: Some(origin.ip.clone()),
        user_agent: origin.user_agent.clone(),
        details: details
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// Writes the log line of an event the store recorded (without its details,
/// which the trail keeps).
pub fn logged(event: &NewAuditEvent) {
    tracing::info!(
        action = event.action.as_str(),
        subject = event.subject,
        ip = event.client_ip.as_deref().unwrap_or("unknown"),
        "audit"
    );
}
