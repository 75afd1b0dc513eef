//! The records the store keeps. All are plain data (serde), serialised as JSON
//! by both implementations.
//!
//! Secrets never enter the store in clear: passwords and client secrets as PHC
//! hashes, TOTP secrets encrypted by the caller, tokens and codes as hashes
//! (see [`hash_token`]). Their `Debug` output is redacted anyway.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

/// Hex SHA-256 of a high-entropy token (authorization code, refresh token,
/// session cookie, trusted-browser cookie): the form under which the store
/// keys them, so a leak of the store does not leak usable tokens.
pub fn hash_token(token: &[u8]) -> String {
    hex::encode(Sha256::digest(token))
}

/// A PHC-format password (or client secret) hash, e.g. `$argon2id$v=19$...`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(pub String);

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(<redacted>)")
    }
}

/// A TOTP secret encrypted by the caller (nonce + ciphertext); opaque here.
///
/// Stored as one base64 string: as a JSON array of numbers (how records
/// written before were stored, still read) decoding it took a third of the
/// CPU of the handler listing a user's devices.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedSecret(pub Vec<u8>);

impl Serialize for EncryptedSecret {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use base64::Engine as _;
        serializer.serialize_str(&base64::engine::general_purpose::STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for EncryptedSecret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Sealed;
        impl<'de> serde::de::Visitor<'de> for Sealed {
            type Value = EncryptedSecret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a base64 string or an array of bytes")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Self::Value, E> {
                use base64::Engine as _;
                base64::engine::general_purpose::STANDARD
                    .decode(v)
                    .map(EncryptedSecret)
                    .map_err(E::custom)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Self::Value, A::Error> {
                let mut bytes = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(256));
                while let Some(b) = seq.next_element::<u8>()? {
                    bytes.push(b);
                }
                Ok(EncryptedSecret(bytes))
            }
        }
        deserializer.deserialize_any(Sealed)
    }
}

impl fmt::Debug for EncryptedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EncryptedSecret(<{} bytes>)", self.0.len())
    }
}

/// An account of the organisation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    /// Login name, unique, case-sensitive as stored.
    pub uid: String,
    /// Unique among users, compared case-insensitively.
    pub email: String,
    pub display_name: String,
    pub password_hash: PasswordHash,
    /// Roles such as `helpdesk`.
    pub roles: BTreeSet<String>,
    /// Directory-like attributes (multi-valued), read by the per-attribute
    /// MFA policy.
    pub attributes: BTreeMap<String, Vec<String>>,
    pub disabled: bool,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When the help desk last reset this user's authenticator apps: what a
    /// sign-in before it proved (browser sessions, tokens, trusted browsers)
    /// no longer counts. Absent in records written before it existed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        with = "time::serde::rfc3339::option"
    )]
    pub devices_reset_at: Option<OffsetDateTime>,
}

impl User {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.contains(role)
    }

    /// Whether a sign-in at `auth_time` (Unix seconds, the resolution of the
    /// tokens' `auth_time`) may still stand: it is not older than the last
    /// reset of the user's devices. A reset means the second factor was lost
    /// or taken, so what it proved goes with it. A sign-in in the very second
    /// of the reset counts as after it (a token cannot tell them apart).
    pub fn signed_in_since_reset(&self, auth_time: i64) -> bool {
        self.devices_reset_at
            .is_none_or(|reset| auth_time >= reset.unix_timestamp())
    }
}

/// A relying party registered with the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub name: String,
    /// Exact redirect URIs; loopback ones match on any port (RFC 8252 §7.3),
    /// which is the caller's matching rule, not the store's.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    /// A public client (desktop app) has no secret and must use PKCE.
    pub public: bool,
    /// PHC hash of the secret of a confidential client.
    pub secret_hash: Option<PasswordHash>,
    /// Per-client MFA policy: `Some(true)` forces MFA, `Some(false)` waives
    /// the global policy, `None` follows it.
    pub require_mfa: Option<bool>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A registered TOTP authenticator. Listed iff it can authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub id: String,
    /// Owner; part of the key: another user's device is simply not found.
    pub uid: String,
    pub name: String,
    pub secret: EncryptedSecret,
    #[serde(with = "time::serde::rfc3339")]
    pub registered_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
}

/// What [`crate::store::Store::delete_device_unless_last`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceDeletion {
    Deleted,
    /// The user has no such device (or it is another user's).
    NotFound,
    /// It is the user's only device; nothing was deleted.
    LastDevice,
}

/// What [`crate::store::Store::reset_devices`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DevicesReset {
    pub devices: u64,
    /// Unexpired trusted browsers.
    pub browsers: u64,
}

/// An enrolment started but not confirmed yet. Nothing is a device until
/// [`crate::store::Store::confirm_enrollment`] turns it into one, under the
/// same id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingEnrollment {
    pub id: String,
    pub uid: String,
    /// The name the device will get.
    pub name: String,
    pub secret: EncryptedSecret,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// After this instant the enrolment is gone (not found).
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

impl PendingEnrollment {
    /// The device this enrolment becomes when `uid` confirms it at `at`;
    /// `None` when it is another user's, has expired, or was started before
    /// the user's devices were last reset (`reset`). A help-desk reset is the
    /// answer to a lost or stolen phone: a confirmation already under way
    /// (the thief's, authorised just before) must not bring a device back.
    pub(super) fn confirmed_by(
        self,
        uid: &str,
        at: time::OffsetDateTime,
        reset: Option<time::OffsetDateTime>,
    ) -> Option<Device> {
        let void = self.uid != uid
            || super::shared::is_expired(self.expires_at)
            || reset.is_some_and(|reset| self.created_at < reset);
        (!void).then_some(Device {
            id: self.id,
            uid: self.uid,
            name: self.name,
            secret: self.secret,
            registered_at: at,
            last_used_at: None,
        })
    }
}

/// What [`crate::store::Store::confirm_enrollment`] made of a pending
/// enrolment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedEnrollment {
    pub device: Device,
    /// The user had no device before this one (decided atomically with the
    /// confirmation, so two confirmations at once never both see "first").
    pub first_device: bool,
}

/// The recovery codes a user's first device gets with its confirmation (see
/// [`crate::store::Store::confirm_enrollment`]): their hashes, and the audit
/// event recording them, appended only when they are set.
#[derive(Debug, Clone, Copy)]
pub struct FirstDeviceCodes<'a> {
    pub hashes: &'a [String],
    pub audit: &'a NewAuditEvent,
}

/// A browser the user chose to trust: its cookie skips the second factor
/// until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrustedBrowser {
    pub id: String,
    pub uid: String,
    /// Readable name from the user agent ("Firefox on Linux").
    pub name: String,
    /// [`hash_token`] of the cookie value.
    pub token_hash: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub last_used_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// Everything the token endpoint needs to redeem an authorization code.
/// Stored under [`hash_token`] of the code, single use, short TTL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthCodeGrant {
    pub client_id: String,
    pub redirect_uri: String,
    pub uid: String,
    /// Space-separated scopes granted.
    pub scope: String,
    pub nonce: Option<String>,
    /// PKCE `code_challenge` and its method (`S256`).
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    /// The acr value emitted (first requested value the sign-in satisfied).
    pub acr: Option<String>,
    /// RFC 8176 values: `pwd`, `otp`, `mfa`.
    pub amr: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub auth_time: OffsetDateTime,
    /// The OIDC `claims` request parameter, as received.
    pub claims: Option<serde_json::Value>,
    /// The browser session the code was issued in, if any (for logout).
    pub session_id: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
}

/// A refresh token, stored under [`hash_token`] of the token. Rotation marks
/// it used and issues a successor in the same family; presenting a used token
/// again revokes the whole family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshToken {
    pub family_id: String,
    pub uid: String,
    pub client_id: String,
    pub scope: String,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub auth_time: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub issued_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
    /// Set by rotation; the store refuses to rotate a used token.
    pub used: bool,
}

/// A browser's sign-in session (the SSO cookie), keyed by [`hash_token`] of
/// the cookie value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowserSession {
    pub uid: String,
    #[serde(with = "time::serde::rfc3339")]
    pub auth_time: OffsetDateTime,
    /// Factors used in this session (`pwd`, `otp`, ...).
    pub amr: Vec<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// An in-progress sign-in (the authorize request and how far the user got),
/// kept between form posts. The payload belongs to the sign-in module, which
/// alone knows its shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignInTransaction {
    pub payload: serde_json::Value,
    #[serde(with = "time::serde::rfc3339")]
    pub expires_at: OffsetDateTime,
}

/// What an audit event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    EnrollmentStarted,
    EnrollmentConfirmed,
    DeviceRenamed,
    DeviceDeleted,
    /// Help-desk removed all devices of the user.
    DevicesReset,
    BrowserTrusted,
    BrowserRevoked,
    BrowsersRevoked,
    RecoveryCodesRegenerated,
    RecoveryCodeUsed,
    SignInSucceeded,
    SignInFailed,
    SecondFactorFailed,
    LockedOut,
    SignedOut,
    RefreshTokenReused,
    UserCreated,
    UserDisabled,
    UserEnabled,
}

impl AuditAction {
    /// Stable machine name (the serde form).
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::EnrollmentStarted => "enrollment_started",
            AuditAction::EnrollmentConfirmed => "enrollment_confirmed",
            AuditAction::DeviceRenamed => "device_renamed",
            AuditAction::DeviceDeleted => "device_deleted",
            AuditAction::DevicesReset => "devices_reset",
            AuditAction::BrowserTrusted => "browser_trusted",
            AuditAction::BrowserRevoked => "browser_revoked",
            AuditAction::BrowsersRevoked => "browsers_revoked",
            AuditAction::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            AuditAction::RecoveryCodeUsed => "recovery_code_used",
            AuditAction::SignInSucceeded => "sign_in_succeeded",
            AuditAction::SignInFailed => "sign_in_failed",
            AuditAction::SecondFactorFailed => "second_factor_failed",
            AuditAction::LockedOut => "locked_out",
            AuditAction::SignedOut => "signed_out",
            AuditAction::RefreshTokenReused => "refresh_token_reused",
            AuditAction::UserCreated => "user_created",
            AuditAction::UserDisabled => "user_disabled",
            AuditAction::UserEnabled => "user_enabled",
        }
    }
}

/// An audit event as appended; the store assigns its id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAuditEvent {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    /// Who acted (the user themself, a help-desk uid, or `None` for the
    /// system / an unauthenticated attempt).
    pub actor: Option<String>,
    /// Whose account the event concerns; events are listed per subject.
    pub subject: String,
    pub action: AuditAction,
    /// The help-desk's reason, or why something failed.
    pub reason: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Action-specific details (device id and name, client id, ...). Never
    /// secrets.
    pub details: BTreeMap<String, String>,
}

/// The detail in which a store records how many devices (or, for a revocation
/// of all trusted browsers, browsers) a change removed, in the audit event it
/// appends with that change.
pub const REMOVED_COUNT: &str = "count";
/// The detail in which a reset of the devices records how many trusted
/// browsers it removed.
pub const REMOVED_BROWSERS: &str = "browsers";
/// The details in which a confirmation records the device it created.
pub const DEVICE_ID: &str = "device_id";
pub const DEVICE_NAME: &str = "name";

impl NewAuditEvent {
    /// The event with `key` set to `value`.
    pub fn with_detail(&self, key: &str, value: impl ToString) -> NewAuditEvent {
        let mut event = self.clone();
        event.details.insert(key.to_owned(), value.to_string());
        event
    }
}

/// A stored audit event. Ids increase with every append across the store,
/// so "newest first" is "highest id first".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub id: u64,
    #[serde(flatten)]
    pub event: NewAuditEvent,
}

/// What checking a bearer access token needs from the store, read together
/// by [`super::Store::bearer_subject`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BearerSubject {
    /// Whether the token's `jti` was revoked (RFC 7009).
    pub token_revoked: bool,
    /// The token's subject as stored now (`None`: deleted).
    pub user: Option<User>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sealed_secret_is_stored_as_base64_and_read_in_either_form() {
        let sealed = EncryptedSecret(vec![0, 1, 2, 250, 255]);
        let json = serde_json::to_string(&sealed).unwrap();
        assert_eq!(json, r#""AAEC+v8=""#);
        assert_eq!(
            serde_json::from_str::<EncryptedSecret>(&json).unwrap(),
            sealed
        );
        // Records written before: an array of numbers.
        let legacy = serde_json::from_str::<EncryptedSecret>("[0,1,2,250,255]").unwrap();
        assert_eq!(legacy, sealed);
        for bad in [r#""not base64!""#, "[256]", "[-1]", "12", "null"] {
            let err = serde_json::from_str::<EncryptedSecret>(bad).unwrap_err();
            assert!(err.is_data() || err.is_syntax(), "{bad}: {err}");
        }
    }

    #[test]
    fn a_reset_stands_against_earlier_sign_ins_to_the_second() {
        // A record written before the field existed: no reset.
        let legacy = r#"{"uid":"ann","email":"ann@example.org","display_name":"Ann",
            "password_hash":"$argon2id$x","roles":[],"attributes":{},"disabled":false,
            "created_at":"2026-01-01T00:00:00Z"}"#;
        let mut user: User = serde_json::from_str(legacy).unwrap();
        assert_eq!(user.devices_reset_at, None);
        assert!(user.signed_in_since_reset(0));
        assert!(
            !serde_json::to_string(&user)
                .unwrap()
                .contains("devices_reset_at")
        );

        let reset = time::macros::datetime!(2026-12-06 10:00:00.750 UTC);
        user.devices_reset_at = Some(reset);
        let secs = reset.unix_timestamp();
        assert!(!user.signed_in_since_reset(secs - 1));
        assert!(
            user.signed_in_since_reset(secs),
            "the same second counts as after"
        );
        assert!(user.signed_in_since_reset(secs + 1));
        let stored: User = serde_json::from_str(&serde_json::to_string(&user).unwrap()).unwrap();
        assert_eq!(stored.devices_reset_at, Some(reset));
    }

    #[test]
    fn hash_token_is_hex_sha256() {
        assert_eq!(
            hash_token(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let hash = PasswordHash("$argon2id$v=19$secret".into());
        let secret = EncryptedSecret(vec![1, 2, 3]);
        assert!(!format!("{hash:?}").contains("secret"));
        assert_eq!(format!("{secret:?}"), "EncryptedSecret(<3 bytes>)");
    }

    #[test]
    fn audit_action_names_match_serde() {
        for action in [
            AuditAction::EnrollmentConfirmed,
            AuditAction::RecoveryCodesRegenerated,
            AuditAction::SignInFailed,
            AuditAction::LockedOut,
        ] {
            let json = serde_json::to_string(&action).unwrap();
            assert_eq!(json, format!("\"{}\"", action.as_str()));
        }
    }
}
