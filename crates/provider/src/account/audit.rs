//! Recording account API changes in the audit trail, and showing the trail
//! on the wire.
//!
//! Every change names its actor (the user, or the help-desk agent), its
//! subject (whose account), the client's address and user agent, and for
//! help-desk changes the stated reason. A change to a second factor hands
//! its [`Change::event`] to the store method that makes it, which appends it
//! in the same atomic step, and logs it with [`logged`] once done; the other
//! events ([`record`]: enrolment started, rename, a wrong code) are best
//! effort, as on the sign-in side: a failed append is logged.

use std::collections::BTreeMap;

use super::auth::Caller;
pub use crate::audit::logged;
use crate::state::Provider;
use crate::store::{self, AuditAction};

/// One change to record.
#[derive(Debug)]
pub struct Change<'a> {
    caller: &'a Caller,
    action: AuditAction,
    subject: &'a str,
    reason: Option<&'a str>,
    details: BTreeMap<String, String>,
}

impl<'a> Change<'a> {
    pub fn new(caller: &'a Caller, action: AuditAction, subject: &'a str) -> Self {
        Change {
            caller,
            action,
            subject,
            reason: None,
            details: BTreeMap::new(),
        }
    }

    pub fn reason(mut self, reason: &'a str) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Action-specific context (ids, names); never secrets.
    pub fn detail(mut self, key: &str, value: &str) -> Self {
        self.details.insert(key.to_owned(), value.to_owned());
        self
    }

    /// The event to hand to a store operation that records its change in
    /// the same atomic step; pass it to [`logged`] once the change is done.
    pub fn event(&self) -> store::NewAuditEvent {
        let details: Vec<(&str, &str)> = self
            .details
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        crate::audit::event(
            &self.caller.origin(),
            self.action,
            self.subject,
            Some(self.caller.uid()),
            self.reason,
            &details,
        )
    }
}

/// Appends the change on its own, best effort (see `crate::audit::append`).
pub async fn record(app: &Provider, change: Change<'_>) {
    crate::audit::append(&*app.store, &change.event()).await;
}

/// The stored action as the API names it; actions the API has no name for
/// are `other`.
pub fn wire_action(action: AuditAction) -> tessera_api::AuditAction {
    use tessera_api::AuditAction as Wire;
    match action {
        AuditAction::EnrollmentConfirmed => Wire::DeviceEnrolled,
        AuditAction::DeviceRenamed => Wire::DeviceRenamed,
        AuditAction::DeviceDeleted => Wire::DeviceRemoved,
        AuditAction::DevicesReset => Wire::DevicesReset,
        AuditAction::BrowserTrusted => Wire::TrustedBrowserAdded,
        AuditAction::BrowserRevoked => Wire::TrustedBrowserRevoked,
        AuditAction::BrowsersRevoked => Wire::TrustedBrowsersRevoked,
        AuditAction::RecoveryCodesRegenerated => Wire::RecoveryCodesGenerated,
        AuditAction::RecoveryCodeUsed => Wire::RecoveryCodeUsed,
        AuditAction::SignInSucceeded => Wire::SignIn,
        AuditAction::SignInFailed => Wire::PasswordFailed,
        AuditAction::SecondFactorFailed => Wire::SecondFactorFailed,
        AuditAction::LockedOut => Wire::AccountLocked,
        AuditAction::SignedOut => Wire::SignOut,
        AuditAction::EnrollmentStarted => Wire::EnrollmentStarted,
        AuditAction::RefreshTokenReused
        | AuditAction::UserCreated
        | AuditAction::UserDisabled
        | AuditAction::UserEnabled => Wire::Other,
    }
}

/// Details naming what an event was about, in order of preference.
const TARGET_KEYS: &[&str] = &["device_id", "browser_id", "enrollment_id"];

pub fn to_wire(e: &store::AuditEvent) -> tessera_api::AuditEvent {
    let ev = &e.event;
    tessera_api::AuditEvent {
        id: e.id.to_string(),
        time: ev.at,
        actor: ev.actor.clone().unwrap_or_else(|| "anonymous".to_owned()),
        subject: ev.subject.clone(),
        action: wire_action(ev.action),
        target: TARGET_KEYS.iter().find_map(|k| ev.details.get(*k).cloned()),
        reason: ev.reason.clone(),
        ip: ev.client_ip.clone(),
        user_agent: ev.user_agent.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::NewAuditEvent;
    use time::OffsetDateTime;

    #[test]
    fn every_account_api_change_has_a_wire_name() {
        use tessera_api::AuditAction as Wire;
        for (stored, wire) in [
            (AuditAction::EnrollmentConfirmed, Wire::DeviceEnrolled),
            (AuditAction::DeviceRenamed, Wire::DeviceRenamed),
            (AuditAction::DeviceDeleted, Wire::DeviceRemoved),
            (AuditAction::DevicesReset, Wire::DevicesReset),
            (AuditAction::BrowserRevoked, Wire::TrustedBrowserRevoked),
            (AuditAction::BrowsersRevoked, Wire::TrustedBrowsersRevoked),
            (
                AuditAction::RecoveryCodesRegenerated,
                Wire::RecoveryCodesGenerated,
            ),
            (AuditAction::LockedOut, Wire::AccountLocked),
            (AuditAction::EnrollmentStarted, Wire::EnrollmentStarted),
        ] {
            assert_eq!(wire_action(stored), wire, "{stored:?}");
        }
    }

    #[test]
    fn wire_event_names_its_target_and_keeps_the_reason() {
        let stored = store::AuditEvent {
            id: 42,
            event: NewAuditEvent {
                at: OffsetDateTime::UNIX_EPOCH,
                actor: None,
                subject: "alice".into(),
                action: AuditAction::DeviceDeleted,
                reason: Some("lost phone".into()),
                client_ip: Some("127.0.0.1".into()),
                user_agent: None,
                details: [
                    ("device_id".to_owned(), "d1".to_owned()),
                    ("name".to_owned(), "Phone".to_owned()),
                ]
                .into_iter()
                .collect(),
            },
        };
        let wire = to_wire(&stored);
        assert_eq!(wire.id, "42");
        assert_eq!(wire.actor, "anonymous");
        assert_eq!(wire.target.as_deref(), Some("d1"));
        assert_eq!(wire.reason.as_deref(), Some("lost phone"));
        assert_eq!(wire.action, tessera_api::AuditAction::DeviceRemoved);
    }
}
