//! Helpers both implementations use, so they agree on validation, search
//! terms, encoding and time.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use super::{DEVICE_ID, DEVICE_NAME, Device, NewAuditEvent, StoreError, StoreResult, User};

/// Longest key component accepted (uids, ids, hashes, names of keys).
const MAX_KEY_LEN: usize = 512;

/// Rejects key components that could not be stored unambiguously: empty,
/// too long, or containing NUL (the embedded store's separator) or control
/// characters.
/// [`check_key`] for every hash of a recovery code set.
pub fn check_recovery_hashes(hashes: &[String]) -> StoreResult<()> {
    hashes
        .iter()
        .try_for_each(|hash| check_key("recovery code hash", hash))
}

/// The audit event of a change to `uid`'s account must be filed under `uid`:
/// a change is never recorded in someone else's trail.
pub fn check_audit(uid: &str, event: &NewAuditEvent) -> StoreResult<()> {
    check_key("audit subject", &event.subject)?;
    if event.subject != uid {
        return Err(StoreError::Invalid(
            "the audit event of a change names another account".into(),
        ));
    }
    Ok(())
}

/// The audit event of a confirmation, naming the device it created.
pub fn confirmation_event(audit: &NewAuditEvent, device: &Device) -> NewAuditEvent {
    audit
        .with_detail(DEVICE_ID, &device.id)
        .with_detail(DEVICE_NAME, &device.name)
}

pub fn check_key(what: &str, value: &str) -> StoreResult<()> {
    if value.is_empty() {
        return Err(StoreError::Invalid(format!("{what} is empty")));
    }
    if value.len() > MAX_KEY_LEN {
        return Err(StoreError::Invalid(format!(
            "{what} is longer than {MAX_KEY_LEN} bytes"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(StoreError::Invalid(format!(
            "{what} contains a control character"
        )));
    }
    Ok(())
}

/// Longest TTL accepted: nothing short-lived lives longer than a year.
pub const MAX_TTL: Duration = Duration::from_secs(366 * 24 * 3600);

/// Rejects a zero TTL (a key that would never exist) and absurdly long ones
/// (which would overflow deadline arithmetic).
pub fn check_ttl(what: &str, ttl: Duration) -> StoreResult<()> {
    if ttl.as_millis() == 0 {
        return Err(StoreError::Invalid(format!(
            "{what} TTL must be at least 1 ms"
        )));
    }
    if ttl > MAX_TTL {
        return Err(StoreError::Invalid(format!(
            "{what} TTL must be at most 366 days"
        )));
    }
    Ok(())
}

pub fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Milliseconds since the Unix epoch.
pub fn unix_ms(at: OffsetDateTime) -> i64 {
    (at.unix_timestamp_nanos() / 1_000_000) as i64
}

/// Time left until `expires_at`, or `None` when it has passed.
pub fn remaining(expires_at: OffsetDateTime) -> Option<Duration> {
    let left = expires_at - now();
    if left.is_positive() {
        Some(left.unsigned_abs())
    } else {
        None
    }
}

/// The TTL of a record expiring at `expires_at`; `Invalid` when that instant
/// has already passed (storing it would be a silent no-op).
pub fn ttl_until(what: &str, expires_at: OffsetDateTime) -> StoreResult<Duration> {
    match remaining(expires_at) {
        Some(ttl) if ttl.as_millis() > 0 => Ok(ttl),
        _ => Err(StoreError::Invalid(format!("{what} has already expired"))),
    }
}

pub fn is_expired(expires_at: OffsetDateTime) -> bool {
    remaining(expires_at).is_none()
}

/// The first `limit` distinct uids of a walk through the search index in
/// its order (`"<term>\0<uid>"`): a user is listed at their first matching
/// term, so the walk stops after about `limit` times the terms of a user,
/// however many users share the prefix.
#[derive(Debug)]
pub struct SearchHits {
    limit: usize,
    uids: Vec<String>,
}

impl SearchHits {
    pub fn new(limit: usize) -> SearchHits {
        SearchHits {
            limit,
            uids: Vec::with_capacity(limit.min(64)),
        }
    }

    /// Takes in an index member; false once `limit` users are found.
    pub fn add(&mut self, member: &str) -> bool {
        if let Some((_, uid)) = member.split_once('\0')
            && self.uids.len() < self.limit
            && !self.uids.iter().any(|u| u == uid)
        {
            self.uids.push(uid.to_owned());
        }
        !self.is_full()
    }

    pub fn is_full(&self) -> bool {
        self.uids.len() >= self.limit
    }

    pub fn into_uids(self) -> Vec<String> {
        self.uids
    }
}

/// The lowercase terms a user is found by in a prefix search: uid, email,
/// the whole display name and each of its words.
pub fn search_terms(user: &User) -> BTreeSet<String> {
    let mut terms = BTreeSet::new();
    terms.insert(user.uid.to_lowercase());
    terms.insert(user.email.to_lowercase());
    let name = user.display_name.trim().to_lowercase();
    if !name.is_empty() {
        for word in name.split_whitespace() {
            terms.insert(word.to_owned());
        }
        terms.insert(name);
    }
    terms
}

/// Normalised form under which emails are unique.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

pub fn check_user(user: &User) -> StoreResult<()> {
    check_key("uid", &user.uid)?;
    check_key("email", &user.email)?;
    Ok(())
}

pub fn encode<T: Serialize>(value: &T) -> StoreResult<Vec<u8>> {
    serde_json::to_vec(value).map_err(StoreError::corrupt)
}

pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> StoreResult<T> {
    serde_json::from_slice(bytes).map_err(StoreError::corrupt)
}

/// The order `Store::list_devices` promises: oldest registration first, ties
/// by id.
pub fn sort_devices(devices: &mut [Device]) {
    devices.sort_by(|a, b| (a.registered_at, &a.id).cmp(&(b.registered_at, &b.id)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn keys_must_be_non_empty_printable_and_short() {
        assert!(check_key("uid", "alice").is_ok());
        assert_eq!(check_key("uid", "").unwrap_err().code(), "invalid");
        assert_eq!(check_key("uid", "a\0b").unwrap_err().code(), "invalid");
        assert_eq!(
            check_key("uid", &"x".repeat(513)).unwrap_err().code(),
            "invalid"
        );
        assert_eq!(
            check_key("device id", "").unwrap_err().to_string(),
            "invalid input: device id is empty"
        );
    }

    #[test]
    fn ttls_must_be_positive_and_bounded() {
        assert!(check_ttl("code", Duration::from_secs(60)).is_ok());
        assert_eq!(
            check_ttl("code", Duration::ZERO).unwrap_err().code(),
            "invalid"
        );
        assert_eq!(
            check_ttl("code", Duration::MAX).unwrap_err().code(),
            "invalid"
        );
        assert!(check_ttl("code", MAX_TTL).is_ok());
    }

    #[test]
    fn search_terms_cover_uid_email_and_name_words() {
        let user = User {
            uid: "JDupont".into(),
            email: "Jean.Dupont@Example.org".into(),
            display_name: "Jean  Dupont".into(),
            password_hash: super::super::PasswordHash("x".into()),
            roles: BTreeSet::new(),
            attributes: BTreeMap::new(),
            disabled: false,
            created_at: now(),
            devices_reset_at: None,
        };
        let terms: Vec<String> = search_terms(&user).into_iter().collect();
        assert_eq!(
            terms,
            [
                "dupont",
                "jdupont",
                "jean",
                "jean  dupont",
                "jean.dupont@example.org"
            ]
        );
    }

    #[test]
    fn remaining_is_none_after_expiry() {
        assert!(remaining(now() - time::Duration::seconds(1)).is_none());
        assert!(remaining(now() + time::Duration::seconds(10)).is_some());
    }
}
