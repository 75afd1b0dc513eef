//! Storage: one [`Store`] trait, a Redis implementation and an embedded one,
//! both checked by the same conformance suite (`tests/store_conformance.rs`).
//!
//! The trait is object safe and used as `Arc<dyn Store>`. Every method is one
//! atomic step: a multi-key change (device + the user's device index, pending
//! enrolment → device, refresh rotation) either happens entirely or not at all,
//! under concurrency, on both implementations. The changes an account's owner
//! or the help desk makes to devices, recovery codes and trusted browsers take
//! the audit event that records them, and append it in that same step: no
//! such change without its trace, even when the store refuses writes (Redis
//! out of memory).
//!
//! Time: records carry absolute instants (`expires_at`); the store compares
//! them with the current time when reading, so an expired record is never
//! returned even before it is purged. Short-lived keys take a TTL instead.
//!
//! Errors: [`StoreError`] with a stable code. `Unavailable` means the backing
//! store cannot be reached (Redis down): callers answer 503. Each call is
//! atomic, so it was applied entirely or not at all (a connection cut after
//! Redis ran it leaves it applied). `Invalid` is bad input (empty or
//! over-long key, control characters, absurd TTL, already expired record),
//! refused before anything is written.

pub mod embedded;
mod error;
mod records;
pub mod redis;
mod shared;

use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

pub use self::redis::RedisStore;
pub use embedded::{EmbeddedStore, FLUSH_EVERY};
pub use error::{StoreError, StoreResult};
pub use records::{
    AuditAction, AuditEvent, AuthCodeGrant, BearerSubject, BrowserSession, Client,
    ConfirmedEnrollment, DEVICE_ID, DEVICE_NAME, Device, DeviceDeletion, DevicesReset,
    EncryptedSecret, FirstDeviceCodes, NewAuditEvent, PasswordHash, PendingEnrollment,
    REMOVED_BROWSERS, REMOVED_COUNT, RefreshToken, SignInTransaction, TrustedBrowser, User,
    hash_token,
};

/// Runs `writes`, handing the store the writes it issues in one poll (the
/// branches of one `join!`) together. The embedded store then commits them
/// in one transaction, one flush, instead of racing its committer's wake-up
/// (see `embedded::commit`); Redis pipelines concurrent commands by itself.
/// Only where writes are independent of each other: none waits for another.
pub fn together<F: std::future::Future>(writes: F) -> impl std::future::Future<Output = F::Output> {
    embedded::together(writes)
}

/// Runs `writes` with every write it issues acknowledged without waiting
/// for the disk on the embedded store (as `write_lazy` ones are): they
/// become durable with the next durable commit, the store's close, or at
/// the latest [`FLUSH_EVERY`] later. Only for writes whose loss in a crash,
/// all of them together, is harmless or covered (a sign-in's completion:
/// see `signin::complete::finish`; a code's redemption: see
/// `oidc::token`). Redis is unaffected: its persistence is the operators'
/// configuration.
pub fn lazily<F: std::future::Future>(writes: F) -> impl std::future::Future<Output = F::Output> {
    embedded::lazily(writes)
}

/// Name of the provider's active ES256 signing key in
/// [`Store::put_key_material`] (see `keyring`).
pub const SIGNING_KEY: &str = "signing-key";
/// Name of the key retired by the last rotation (see `keyring`).
pub const RETIRED_SIGNING_KEY: &str = "signing-key-retired";

/// The provider's storage.
///
/// Conventions: a lookup that finds nothing answers `Ok(None)`; a delete
/// answers whether something was deleted; an update of a missing record is
/// [`StoreError::NotFound`]. Records owned by a user are addressed by
/// `(uid, id)`: another user's id is not found. Tokens and codes are addressed
/// by their [`hash_token`].
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Which implementation this is (`"redis"`, `"embedded"`), for logs.
    fn kind(&self) -> &'static str;

    /// When this store was last opened after an unclean stop (a crash, a
    /// `kill -9`), if it ever was. Writes acknowledged without waiting for
    /// the disk before then (the embedded store's `write_lazy`) may have been
    /// lost, used-code markers and code redemptions among them, so a TOTP
    /// code that could have been accepted before that time is refused
    /// (`signin::second_factor`), and so is an authorization code issued
    /// before it (`oidc::token`).
    /// `None` on Redis: what its persistence keeps through a crash is the
    /// operators' configuration.
    fn recovered_at(&self) -> Option<OffsetDateTime> {
        None
    }

    /// Checks that the backing store answers.
    async fn ping(&self) -> StoreResult<()>;

    // ----- users -----

    /// Adds a user; `AlreadyExists` if the uid or (case-insensitively) the
    /// email is taken.
    async fn create_user(&self, user: &User) -> StoreResult<()>;
    /// Replaces a user's record (password, roles, attributes, name, email);
    /// `NotFound` if the uid is unknown, `AlreadyExists` if the new email
    /// belongs to someone else.
    async fn update_user(&self, user: &User) -> StoreResult<()>;
    async fn get_user(&self, uid: &str) -> StoreResult<Option<User>>;
    /// Looks a user up by email, case-insensitively (sign-in by email).
    async fn get_user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// All users, ordered by uid.
    async fn list_users(&self) -> StoreResult<Vec<User>>;
    /// Users whose uid, email or a word of their display name starts with
    /// `prefix` (case-insensitive), at most `limit`, in the order of the
    /// first term of theirs that matches, then uid: what a prefix index
    /// yields in order, so the work is bounded by `limit`, not by how many
    /// users share the prefix.
    async fn search_users(&self, prefix: &str, limit: usize) -> StoreResult<Vec<User>>;
    /// `NotFound` if the uid is unknown.
    async fn set_user_disabled(&self, uid: &str, disabled: bool) -> StoreResult<()>;

    // ----- clients -----

    /// `AlreadyExists` if the client id is taken.
    async fn create_client(&self, client: &Client) -> StoreResult<()>;
    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>>;
    /// All clients, ordered by client id.
    async fn list_clients(&self) -> StoreResult<Vec<Client>>;

    // ----- devices (TOTP authenticators) -----

    /// Stores a device and adds it to its owner's index, atomically;
    /// `AlreadyExists` if the id is taken.
    async fn create_device(&self, device: &Device) -> StoreResult<()>;
    /// The user's devices, oldest registration first. Exactly the devices
    /// that can authenticate.
    async fn list_devices(&self, uid: &str) -> StoreResult<Vec<Device>>;
    async fn get_device(&self, uid: &str, id: &str) -> StoreResult<Option<Device>>;
    /// Renames in place (never duplicates); returns the updated device.
    async fn rename_device(&self, uid: &str, id: &str, name: &str) -> StoreResult<Device>;
    /// Records a successful use.
    async fn touch_device(&self, uid: &str, id: &str, at: OffsetDateTime) -> StoreResult<()>;
    /// Removes the device and its index entry, and appends `audit`, in one
    /// atomic step; `false` (and no event) if the user has no such device.
    async fn delete_device(&self, uid: &str, id: &str, audit: &NewAuditEvent) -> StoreResult<bool>;
    /// The help-desk reset, in one atomic step: stamps the user's
    /// `devices_reset_at` with `at` (what earlier sign-ins proved stops
    /// counting) and removes all of the user's devices, their recovery codes
    /// (which stand in for a device) and their trusted browsers. No device
    /// confirmed meanwhile is left without its codes, no sign-in can slip
    /// between the stamp and the removal, and a concurrent change to the
    /// user record is kept (the stamp is set on the record as stored).
    /// `audit` is appended in the same step, with the outcome in its
    /// [`REMOVED_COUNT`] (devices) and [`REMOVED_BROWSERS`] details.
    /// `NotFound` (and no event) if there is no such user.
    async fn reset_devices(
        &self,
        uid: &str,
        at: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> StoreResult<DevicesReset>;
    /// Like [`Store::delete_device`], but refuses (atomically, across provider
    /// instances) to remove the user's only device: the "last factor" rule
    /// for users who must use 2FA. `audit` is appended in the same step when
    /// the device is deleted, and only then.
    async fn delete_device_unless_last(
        &self,
        uid: &str,
        id: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<DeviceDeletion>;

    // ----- pending enrolments -----

    /// Stores a pending enrolment until its `expires_at`; `AlreadyExists` if
    /// the id is taken (by a pending enrolment or a device).
    async fn put_pending_enrollment(&self, pending: &PendingEnrollment) -> StoreResult<()>;
    async fn get_pending_enrollment(
        &self,
        uid: &str,
        id: &str,
    ) -> StoreResult<Option<PendingEnrollment>>;
    async fn delete_pending_enrollment(&self, uid: &str, id: &str) -> StoreResult<bool>;
    /// Atomically removes the pending enrolment and creates the device with
    /// the same id, name and secret, registered at `at`. `NotFound` if it
    /// does not exist, has expired or was already confirmed: a pending
    /// enrolment becomes at most one device, and a confirmed device is never
    /// lost. When the device is the user's first and `first_device_codes`
    /// is given, those recovery code hashes replace the user's set in the
    /// same atomic step: a first device never exists without its codes, and
    /// of two first confirmations at once only one sets codes. `audit` is
    /// appended in that step too, with the device in its [`DEVICE_ID`] and
    /// [`DEVICE_NAME`] details, and the codes' own event when they are set.
    /// `TooManyDevices` (the enrolment kept) when the user already has
    /// `max_devices`: decided in the same step, so concurrent confirmations
    /// never pass the bound.
    async fn confirm_enrollment(
        &self,
        uid: &str,
        id: &str,
        at: OffsetDateTime,
        max_devices: u32,
        first_device_codes: Option<FirstDeviceCodes<'_>>,
        audit: &NewAuditEvent,
    ) -> StoreResult<ConfirmedEnrollment>;

    // ----- recovery codes -----

    /// Replaces the user's recovery code hashes (the previous set is void)
    /// and appends `audit`, in one atomic step. An empty list removes them
    /// all.
    async fn replace_recovery_codes(
        &self,
        uid: &str,
        hashes: &[String],
        audit: &NewAuditEvent,
    ) -> StoreResult<()>;
    /// Removes one code if present; `true` exactly once per code.
    async fn consume_recovery_code(&self, uid: &str, hash: &str) -> StoreResult<bool>;
    async fn count_recovery_codes(&self, uid: &str) -> StoreResult<u64>;

    // ----- trusted browsers -----

    /// `AlreadyExists` if the id or the token hash is taken.
    async fn create_trusted_browser(&self, browser: &TrustedBrowser) -> StoreResult<()>;
    /// The user's unexpired trusted browsers, oldest first.
    async fn list_trusted_browsers(&self, uid: &str) -> StoreResult<Vec<TrustedBrowser>>;
    /// The unexpired trusted browser whose cookie hashes to `token_hash`.
    async fn find_trusted_browser(&self, token_hash: &str) -> StoreResult<Option<TrustedBrowser>>;
    async fn touch_trusted_browser(
        &self,
        uid: &str,
        id: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()>;
    /// Revokes only this browser of this user and appends `audit`, in one
    /// atomic step; `false` (and no event) if the user has no such browser.
    async fn revoke_trusted_browser(
        &self,
        uid: &str,
        id: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool>;
    /// Revokes every trusted browser of the user and appends `audit` with
    /// how many in its [`REMOVED_COUNT`] detail, in one atomic step; returns
    /// how many.
    async fn revoke_all_trusted_browsers(
        &self,
        uid: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<u64>;

    // ----- authorization codes -----

    /// Stores a grant under the code's hash for `ttl`; `AlreadyExists` on a
    /// hash collision.
    async fn put_auth_code(
        &self,
        code_hash: &str,
        grant: &AuthCodeGrant,
        ttl: Duration,
    ) -> StoreResult<()>;
    /// The unexpired grant stored under the code's hash, left in place: the
    /// token endpoint checks it, then exchanges it with
    /// [`Store::redeem_auth_code`].
    async fn get_auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeGrant>>;
    /// Removes and returns the grant: of concurrent takes exactly one gets it.
    /// For a code that failed a check (it must not stay usable); a code
    /// exchanged for tokens is consumed by [`Store::redeem_auth_code`].
    async fn take_auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeGrant>>;
    /// Exchanges a code for its first refresh token in one atomic, durable
    /// write: removes the code, stores `refresh` under `refresh_hash` and
    /// remembers until `remember_until` that the code produced
    /// `refresh.family_id` (so that presenting it again revokes the family).
    /// `false`, with nothing written, when the code is gone: of concurrent
    /// exchanges exactly one redeems it. `AlreadyExists` if the token hash
    /// is taken.
    async fn redeem_auth_code(
        &self,
        code_hash: &str,
        refresh_hash: &str,
        refresh: &RefreshToken,
        remember_until: OffsetDateTime,
    ) -> StoreResult<bool>;

    // ----- refresh tokens -----

    /// Stores a token (first of a family, or after a code exchange).
    async fn put_refresh_token(&self, token_hash: &str, token: &RefreshToken) -> StoreResult<()>;
    /// The token if it is unexpired and its family is not revoked (a used
    /// token is returned with `used == true`).
    async fn get_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>>;
    /// Atomically marks `old_hash` used and stores `new` under `new_hash`;
    /// returns the old record. `NotFound` if the old token is unknown, expired
    /// or revoked; `RefreshReuse` (after revoking the whole family) if it was
    /// already used; `Conflict` if `new` is not in the old token's family.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        new: &RefreshToken,
    ) -> StoreResult<RefreshToken>;
    /// Revokes one token; `false` if unknown.
    async fn revoke_refresh_token(&self, token_hash: &str) -> StoreResult<bool>;
    /// Revokes every token of the family; returns how many were removed.
    async fn revoke_refresh_family(&self, family_id: &str) -> StoreResult<u64>;

    /// The family an already-redeemed code produced, while remembered (see
    /// [`Store::redeem_auth_code`]).
    async fn redeemed_code_family(&self, code_hash: &str) -> StoreResult<Option<String>>;

    // ----- access token revocation (RFC 7009) -----

    /// Refuses the access token with this `jti` until `expires_at` (its own
    /// expiry; an already expired token needs no record and none is kept).
    async fn revoke_access_token(&self, jti: &str, expires_at: OffsetDateTime) -> StoreResult<()>;
    /// Whether the access token `jti` is revoked, and the user `uid`, in one
    /// read (one round trip on Redis): every bearer-authenticated request
    /// makes this call, so it is the floor of the account API's latency.
    async fn bearer_subject(&self, uid: &str, jti: &str) -> StoreResult<BearerSubject>;
    /// [`Store::bearer_subject`] and the user's devices
    /// ([`Store::list_devices`]) in the same single read: the account API's
    /// most frequent requests need both.
    async fn bearer_subject_and_devices(
        &self,
        uid: &str,
        jti: &str,
    ) -> StoreResult<(BearerSubject, Vec<Device>)>;

    // ----- browser sessions and sign-in transactions -----

    /// Stores a session under the cookie's hash until its `expires_at`.
    async fn put_session(&self, id_hash: &str, session: &BrowserSession) -> StoreResult<()>;
    async fn get_session(&self, id_hash: &str) -> StoreResult<Option<BrowserSession>>;
    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool>;

    /// Stores (or replaces) a sign-in transaction until its `expires_at`.
    async fn put_transaction(&self, id: &str, txn: &SignInTransaction) -> StoreResult<()>;
    async fn get_transaction(&self, id: &str) -> StoreResult<Option<SignInTransaction>>;
    async fn delete_transaction(&self, id: &str) -> StoreResult<bool>;

    // ----- TOTP replay protection -----

    /// Marks a code as used for `ttl`; `false` if it already was (SET NX
    /// semantics). `code_id` names the account and the code typed
    /// ([`crate::totp::used_code_id`]): a code is marked when it is posted,
    /// before it is checked, and the mark is taken back
    /// ([`Store::unmark_code_used`]) unless the code is accepted (see
    /// `signin::second_factor`). Visible at once, durable (on a store that
    /// waits for the disk) with the next durable commit or the store's
    /// close: a crash before that may forget the mark, which is why a store
    /// recovered from a crash refuses every code that could have been
    /// accepted before ([`Store::recovered_at`]).
    async fn mark_code_used(&self, code_id: &str, ttl: Duration) -> StoreResult<bool>;
    /// Takes back a mark of [`Store::mark_code_used`]; whether one was there.
    async fn unmark_code_used(&self, code_id: &str) -> StoreResult<bool>;

    // ----- rate limiting -----

    /// Counts a hit on each of `keys` together (one round trip); a key's
    /// window starts at its first hit and lasts `window`. Returns each
    /// key's count including this hit, in the order of `keys`.
    async fn rate_limit_hits(&self, keys: &[&str], window: Duration) -> StoreResult<Vec<u64>>;
    /// [`Store::rate_limit_hits`] on one key.
    async fn rate_limit_hit(&self, key: &str, window: Duration) -> StoreResult<u64> {
        let counts = self.rate_limit_hits(&[key], window).await?;
        counts
            .first()
            .copied()
            .ok_or_else(|| StoreError::Unavailable("the store answered no count".into()))
    }
    /// Gives one hit of the current window back on each of `keys` (an
    /// attempt counted before it was checked that turned out not to be a
    /// failure); a window ends with its last hit. Nothing for a key without
    /// a window.
    async fn rate_limit_release(&self, keys: &[&str]) -> StoreResult<()>;
    /// Hits in the current window (0 when none or expired).
    async fn rate_limit_count(&self, key: &str) -> StoreResult<u64>;
    async fn rate_limit_reset(&self, key: &str) -> StoreResult<()>;
    /// Time left in the key's current window (`None` when no window is open),
    /// e.g. to say when a lock-out ends.
    async fn rate_limit_ttl(&self, key: &str) -> StoreResult<Option<Duration>>;

    // ----- audit -----

    /// Appends an event; returns it with its id.
    async fn append_audit(&self, event: &NewAuditEvent) -> StoreResult<AuditEvent>;
    /// Events about `subject`, newest first, with id below `before` when
    /// given, at most `limit`. Page on with `before = last.id`.
    async fn list_audit(
        &self,
        subject: &str,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<AuditEvent>>;

    // ----- provider key material -----

    async fn get_key_material(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;
    async fn put_key_material(&self, name: &str, value: &[u8]) -> StoreResult<()>;
    /// Stores `value` unless the name is already set; returns what is stored
    /// afterwards, so concurrent first starts agree on one key.
    async fn put_key_material_if_absent(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>>;
    /// Removes `name`; answers whether it was set.
    async fn delete_key_material(&self, name: &str) -> StoreResult<bool>;

    // ----- maintenance -----

    /// Removes expired records now; returns how many. Expired records are
    /// never returned anyway; Redis expires keys itself and answers 0.
    async fn purge_expired(&self) -> StoreResult<u64>;
}
