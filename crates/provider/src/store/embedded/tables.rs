//! The embedded store's tables and the steps, each within one write
//! transaction, that its operations are made of.
//!
//! Records are JSON values keyed by id; per-owner indexes are tables keyed
//! `"<owner>\0<id>"` (NUL cannot occur in a validated key), written in the
//! same transaction as the record. Short-lived values live in `ephemeral`,
//! their value prefixed by the expiry instant.

use std::time::Duration;

use redb::{ReadableTable, Table, TableDefinition, WriteTransaction};
use time::OffsetDateTime;

use crate::store::shared::{decode, encode, is_expired, now, search_terms, unix_ms};
use crate::store::{
    AuditEvent, Device, NewAuditEvent, PendingEnrollment, RefreshToken, StoreError, StoreResult,
    TrustedBrowser, User,
};

pub(super) type Json = &'static [u8];

pub(super) const USERS: TableDefinition<&str, Json> = TableDefinition::new("users");
pub(super) const USER_EMAILS: TableDefinition<&str, &str> = TableDefinition::new("user_emails");
/// `"<term>\0<uid>"`, see [`search_terms`].
pub(super) const USER_SEARCH: TableDefinition<&str, ()> = TableDefinition::new("user_search");
pub(super) const CLIENTS: TableDefinition<&str, Json> = TableDefinition::new("clients");
pub(super) const DEVICES: TableDefinition<&str, Json> = TableDefinition::new("devices");
/// `"<uid>\0<device id>"`.
pub(super) const USER_DEVICES: TableDefinition<&str, ()> = TableDefinition::new("user_devices");
pub(super) const PENDING: TableDefinition<&str, Json> = TableDefinition::new("pending_enrollments");
/// `"<uid>\0<code hash>"`.
pub(super) const RECOVERY: TableDefinition<&str, ()> = TableDefinition::new("recovery_codes");
pub(super) const BROWSERS: TableDefinition<&str, Json> = TableDefinition::new("trusted_browsers");
/// `"<uid>\0<browser id>"`.
pub(super) const USER_BROWSERS: TableDefinition<&str, ()> = TableDefinition::new("user_browsers");
/// token hash → browser id.
pub(super) const BROWSER_TOKENS: TableDefinition<&str, &str> =
    TableDefinition::new("browser_tokens");
pub(super) const REFRESH: TableDefinition<&str, Json> = TableDefinition::new("refresh_tokens");
/// `"<family id>\0<token hash>"`.
pub(super) const REFRESH_FAMILIES: TableDefinition<&str, ()> =
    TableDefinition::new("refresh_families");
pub(super) const AUDIT: TableDefinition<u64, Json> = TableDefinition::new("audit");
/// `"<subject>\0<id as 20 digits>"`.
pub(super) const AUDIT_BY_SUBJECT: TableDefinition<&str, ()> =
    TableDefinition::new("audit_by_subject");
/// `"<kind>\0<key>"` → 8-byte big-endian expiry (Unix ms) then the payload.
pub(super) const EPHEMERAL: TableDefinition<&str, Json> = TableDefinition::new("ephemeral");
pub(super) const KEY_MATERIAL: TableDefinition<&str, Json> = TableDefinition::new("key_material");
/// The store's own state: [`OPEN`] while a process has the file open,
/// [`RECOVERED_AT`] (8-byte big-endian Unix seconds) once it was opened
/// after an unclean stop.
pub(super) const LIFECYCLE: TableDefinition<&str, &[u8]> = TableDefinition::new("lifecycle");
pub(super) const OPEN: &str = "open";
pub(super) const RECOVERED_AT: &str = "recovered_at";

pub(super) fn create_tables(txn: &WriteTransaction) -> StoreResult<()> {
    txn.open_table(USERS)?;
    txn.open_table(USER_EMAILS)?;
    txn.open_table(USER_SEARCH)?;
    txn.open_table(CLIENTS)?;
    txn.open_table(DEVICES)?;
    txn.open_table(USER_DEVICES)?;
    txn.open_table(PENDING)?;
    txn.open_table(RECOVERY)?;
    txn.open_table(BROWSERS)?;
    txn.open_table(USER_BROWSERS)?;
    txn.open_table(BROWSER_TOKENS)?;
    txn.open_table(REFRESH)?;
    txn.open_table(REFRESH_FAMILIES)?;
    txn.open_table(AUDIT)?;
    txn.open_table(AUDIT_BY_SUBJECT)?;
    txn.open_table(EPHEMERAL)?;
    txn.open_table(KEY_MATERIAL)?;
    txn.open_table(LIFECYCLE)?;
    Ok(())
}

/// What opening the file found (see [`mark_open`]).
pub(super) struct Opened {
    /// The previous process did not close the file: this open is a recovery.
    pub unclean: bool,
    /// When the file was last opened after an unclean stop (this open's
    /// time when `unclean`), kept for the next opens.
    pub recovered_at: Option<u64>,
}

/// Marks the file open, in the transaction that opens it, and tells whether
/// the previous process left without closing it: its mark ([`mark_closed`])
/// is still there.
pub(super) fn mark_open(txn: &WriteTransaction, now: u64) -> StoreResult<Opened> {
    let mut lifecycle = txn.open_table(LIFECYCLE)?;
    let unclean = lifecycle.get(OPEN)?.is_some();
    if unclean {
        lifecycle.insert(RECOVERED_AT, now.to_be_bytes().as_slice())?;
    }
    lifecycle.insert(OPEN, [].as_slice())?;
    let recovered_at = lifecycle.get(RECOVERED_AT)?.map(|at| {
        let bytes: [u8; 8] = at.value().try_into().unwrap_or_default();
        u64::from_be_bytes(bytes)
    });
    Ok(Opened {
        unclean,
        recovered_at,
    })
}

/// Marks the file closed: the last write of a process that stops cleanly.
pub(super) fn mark_closed(txn: &WriteTransaction) -> StoreResult<()> {
    txn.open_table(LIFECYCLE)?.remove(OPEN)?;
    Ok(())
}

macro_rules! unavailable_from {
    ($($err:ty),*) => {$(
        impl From<$err> for StoreError {
            fn from(err: $err) -> Self {
                StoreError::Unavailable(format!("embedded store: {err}"))
            }
        }
    )*};
}
unavailable_from!(
    redb::StorageError,
    redb::TableError,
    redb::TransactionError,
    redb::CommitError,
    redb::DatabaseError,
    redb::SetDurabilityError
);

/// `"<a>\0<b>"`: the key of an index entry.
pub(super) fn pair(a: &str, b: &str) -> String {
    format!("{a}\0{b}")
}

/// The second halves of the `"<owner>\0..."` keys of `table`, in key order.
pub(super) fn members<T: ReadableTable<&'static str, ()>>(
    table: &T,
    owner: &str,
) -> StoreResult<Vec<String>> {
    let start = format!("{owner}\0");
    let end = format!("{owner}\u{1}");
    let mut out = Vec::new();
    for entry in table.range::<&str>(start.as_str()..end.as_str())? {
        let (key, _) = entry?;
        out.push(key.value()[start.len()..].to_owned());
    }
    Ok(out)
}

pub(super) fn get_json<T, Tbl>(table: &Tbl, key: &str) -> StoreResult<Option<T>>
where
    T: serde::de::DeserializeOwned,
    Tbl: ReadableTable<&'static str, Json>,
{
    match table.get(key)? {
        Some(guard) => Ok(Some(decode(guard.value())?)),
        None => Ok(None),
    }
}

pub(super) fn put_json<T: serde::Serialize>(
    table: &mut Table<&'static str, Json>,
    key: &str,
    value: &T,
) -> StoreResult<()> {
    table.insert(key, encode(value)?.as_slice())?;
    Ok(())
}

// ----- ephemeral values: expiry prefix + payload -----

pub(super) fn ephemeral_key(kind: &str, key: &str) -> String {
    pair(kind, key)
}

pub(super) fn pack(expires_at: OffsetDateTime, payload: &[u8]) -> Vec<u8> {
    let mut out = unix_ms(expires_at).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

/// The payload if the value is unexpired.
pub(super) fn unpack(bytes: &[u8]) -> StoreResult<Option<(i64, Vec<u8>)>> {
    let Some((expiry, payload)) = bytes.split_first_chunk::<8>() else {
        return Err(StoreError::Corrupt(
            "ephemeral value shorter than 8 bytes".into(),
        ));
    };
    let expiry = i64::from_be_bytes(*expiry);
    if expiry <= unix_ms(now()) {
        return Ok(None);
    }
    Ok(Some((expiry, payload.to_vec())))
}

pub(super) fn ephemeral_get<T: ReadableTable<&'static str, Json>>(
    table: &T,
    key: &str,
) -> StoreResult<Option<(i64, Vec<u8>)>> {
    match table.get(key)? {
        Some(guard) => unpack(guard.value()),
        None => Ok(None),
    }
}

pub(super) fn expiry_after(ttl: Duration) -> OffsetDateTime {
    now() + ttl
}

// ----- deletions shared by several operations -----

pub(super) fn remove_device(txn: &WriteTransaction, uid: &str, id: &str) -> StoreResult<bool> {
    let mut devices = txn.open_table(DEVICES)?;
    let Some(device) = get_json::<Device, _>(&devices, id)? else {
        return Ok(false);
    };
    if device.uid != uid {
        return Ok(false);
    }
    devices.remove(id)?;
    txn.open_table(USER_DEVICES)?
        .remove(pair(uid, id).as_str())?;
    Ok(true)
}

pub(super) fn remove_browser(txn: &WriteTransaction, browser: &TrustedBrowser) -> StoreResult<()> {
    txn.open_table(BROWSERS)?.remove(browser.id.as_str())?;
    txn.open_table(USER_BROWSERS)?
        .remove(pair(&browser.uid, &browser.id).as_str())?;
    txn.open_table(BROWSER_TOKENS)?
        .remove(browser.token_hash.as_str())?;
    Ok(())
}

/// Removes all of the user's trusted browsers; returns how many were
/// unexpired.
pub(super) fn remove_all_browsers(txn: &WriteTransaction, uid: &str) -> StoreResult<u64> {
    let ids = members(&txn.open_table(USER_BROWSERS)?, uid)?;
    let mut revoked = 0;
    for id in ids {
        let browser: Option<TrustedBrowser> = get_json(&txn.open_table(BROWSERS)?, &id)?;
        if let Some(browser) = browser {
            remove_browser(txn, &browser)?;
            if !is_expired(browser.expires_at) {
                revoked += 1;
            }
        } else {
            txn.open_table(USER_BROWSERS)?
                .remove(pair(uid, &id).as_str())?;
        }
    }
    Ok(revoked)
}

pub(super) fn remove_refresh(txn: &WriteTransaction, hash: &str) -> StoreResult<bool> {
    let mut tokens = txn.open_table(REFRESH)?;
    let Some(token) = get_json::<RefreshToken, _>(&tokens, hash)? else {
        return Ok(false);
    };
    tokens.remove(hash)?;
    txn.open_table(REFRESH_FAMILIES)?
        .remove(pair(&token.family_id, hash).as_str())?;
    Ok(true)
}

pub(super) fn remove_family(txn: &WriteTransaction, family_id: &str) -> StoreResult<u64> {
    let hashes = members(&txn.open_table(REFRESH_FAMILIES)?, family_id)?;
    let mut removed = 0;
    for hash in hashes {
        if remove_refresh(txn, &hash)? {
            removed += 1;
        }
    }
    Ok(removed)
}

pub(super) fn set_search_terms(
    txn: &WriteTransaction,
    user: &User,
    present: bool,
) -> StoreResult<()> {
    let mut search = txn.open_table(USER_SEARCH)?;
    for term in search_terms(user) {
        let key = pair(&term, &user.uid);
        if present {
            search.insert(key.as_str(), ())?;
        } else {
            search.remove(key.as_str())?;
        }
    }
    Ok(())
}

/// Removes every expired record and the index entries that point to it.
pub(super) fn purge(txn: &WriteTransaction) -> StoreResult<u64> {
    let mut purged = 0;

    let expired: Vec<String> = {
        let table = txn.open_table(EPHEMERAL)?;
        let mut keys = Vec::new();
        for entry in table.iter()? {
            let (key, value) = entry?;
            if unpack(value.value())?.is_none() {
                keys.push(key.value().to_owned());
            }
        }
        keys
    };
    let mut table = txn.open_table(EPHEMERAL)?;
    for key in &expired {
        table.remove(key.as_str())?;
    }
    drop(table);
    purged += expired.len() as u64;

    let pending: Vec<String> = expired_ids::<PendingEnrollment>(txn, PENDING, |p| p.expires_at)?;
    let mut table = txn.open_table(PENDING)?;
    for id in &pending {
        table.remove(id.as_str())?;
    }
    drop(table);
    purged += pending.len() as u64;

    let browsers: Vec<TrustedBrowser> = {
        let table = txn.open_table(BROWSERS)?;
        let mut out = Vec::new();
        for entry in table.iter()? {
            let (_, value) = entry?;
            let browser: TrustedBrowser = decode(value.value())?;
            if is_expired(browser.expires_at) {
                out.push(browser);
            }
        }
        out
    };
    for browser in &browsers {
        remove_browser(txn, browser)?;
    }
    purged += browsers.len() as u64;

    for hash in expired_ids::<RefreshToken>(txn, REFRESH, |t| t.expires_at)? {
        remove_refresh(txn, &hash)?;
        purged += 1;
    }
    Ok(purged)
}

pub(super) fn expired_ids<T: serde::de::DeserializeOwned>(
    txn: &WriteTransaction,
    table: TableDefinition<&str, Json>,
    expires_at: impl Fn(&T) -> OffsetDateTime,
) -> StoreResult<Vec<String>> {
    let table = txn.open_table(table)?;
    let mut out = Vec::new();
    for entry in table.iter()? {
        let (key, value) = entry?;
        if is_expired(expires_at(&decode::<T>(value.value())?)) {
            out.push(key.value().to_owned());
        }
    }
    Ok(out)
}

/// A rate-limit counter's row: its window's end (unix ms) and its hits.
pub(super) fn encode_count(expiry: i64, count: u64) -> Vec<u8> {
    let mut value = expiry.to_be_bytes().to_vec();
    value.extend_from_slice(&count.to_be_bytes());
    value
}

pub(super) fn decode_count(payload: &[u8]) -> StoreResult<u64> {
    let bytes: [u8; 8] = payload
        .try_into()
        .map_err(|_| StoreError::Corrupt("rate limit counter is not 8 bytes".into()))?;
    Ok(u64::from_be_bytes(bytes))
}

pub(super) fn audit_subject_key(subject: &str, id: u64) -> String {
    format!("{subject}\0{id:020}")
}

/// Appends `event` with the next id, in the transaction of the change it
/// records.
pub(super) fn append_audit_in(
    txn: &WriteTransaction,
    event: &NewAuditEvent,
) -> StoreResult<AuditEvent> {
    let mut audit = txn.open_table(AUDIT)?;
    let id = match audit.last()? {
        Some((last, _)) => last.value() + 1,
        None => 1,
    };
    let stored = AuditEvent {
        id,
        event: event.clone(),
    };
    audit.insert(id, encode(&stored)?.as_slice())?;
    txn.open_table(AUDIT_BY_SUBJECT)?
        .insert(audit_subject_key(&stored.event.subject, id).as_str(), ())?;
    Ok(stored)
}

pub(super) fn insert_device(txn: &WriteTransaction, device: &Device) -> StoreResult<()> {
    let mut devices = txn.open_table(DEVICES)?;
    if devices.get(device.id.as_str())?.is_some() {
        return Err(StoreError::AlreadyExists { what: "device" });
    }
    put_json(&mut devices, &device.id, device)?;
    txn.open_table(USER_DEVICES)?
        .insert(pair(&device.uid, &device.id).as_str(), ())?;
    Ok(())
}

/// Replaces `uid`'s recovery code hashes with `hashes` (the old set is void).
pub(super) fn replace_recovery_codes_in(
    txn: &WriteTransaction,
    uid: &str,
    hashes: &[String],
) -> StoreResult<()> {
    let mut table = txn.open_table(RECOVERY)?;
    for old in members(&table, uid)? {
        table.remove(pair(uid, &old).as_str())?;
    }
    for hash in hashes {
        table.insert(pair(uid, hash).as_str(), ())?;
    }
    Ok(())
}

pub(super) fn update_device(
    txn: &WriteTransaction,
    uid: &str,
    id: &str,
    change: impl FnOnce(&mut Device),
) -> StoreResult<Device> {
    let mut devices = txn.open_table(DEVICES)?;
    match get_json::<Device, _>(&devices, id)? {
        Some(mut device) if device.uid == uid => {
            change(&mut device);
            put_json(&mut devices, id, &device)?;
            Ok(device)
        }
        _ => Err(StoreError::NotFound { what: "device" }),
    }
}

pub(super) fn insert_refresh(
    txn: &WriteTransaction,
    hash: &str,
    token: &RefreshToken,
) -> StoreResult<()> {
    let mut tokens = txn.open_table(REFRESH)?;
    if tokens.get(hash)?.is_some() {
        return Err(StoreError::AlreadyExists {
            what: "refresh token",
        });
    }
    put_json(&mut tokens, hash, token)?;
    txn.open_table(REFRESH_FAMILIES)?
        .insert(pair(&token.family_id, hash).as_str(), ())?;
    Ok(())
}
