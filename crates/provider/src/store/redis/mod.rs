//! The Redis store: what operators run.
//!
//! Key layout (prefix `P`, e.g. `tessera:`):
//!
//! | key                          | type   | content                                 |
//! |------------------------------|--------|-----------------------------------------|
//! | `P user:<uid>`               | string | [`User`] JSON                           |
//! | `P user-email:<email lower>` | string | uid                                     |
//! | `P users`                    | zset   | uids (score 0, lexical order)           |
//! | `P user-search`              | zset   | `"<term>\0<uid>"` (prefix search)       |
//! | `P client:<id>` / `P clients`| string / zset | [`Client`] JSON / ids            |
//! | `P devices:<uid>`            | hash   | device id → [`Device`] JSON             |
//! | `P device-owner:<id>`        | string | uid (device ids are unique across users)|
//! | `P pending:<id>`             | string | [`PendingEnrollment`] JSON, TTL         |
//! | `P recovery:<uid>`           | set    | recovery code hashes                    |
//! | `P browser:<id>`             | string | [`TrustedBrowser`] JSON, TTL            |
//! | `P browser-token:<hash>`     | string | browser id, TTL                         |
//! | `P user-browsers:<uid>`      | set    | browser ids                             |
//! | `P code:<hash>`              | string | [`AuthCodeGrant`] JSON, TTL             |
//! | `P refresh:<hash>`           | string | [`RefreshToken`] JSON, TTL              |
//! | `P refresh-family:<id>`      | set    | token hashes, TTL of the longest        |
//! | `P session:<hash>` / `P txn:<id>` | string | session / transaction JSON, TTL    |
//! | `P used:<device>:<step>`     | string | used TOTP code marker, TTL              |
//! | `P rate:<key>`               | string | counter, TTL = window                   |
//! | `P redeemed-code:<hash>`     | string | refresh family the code produced, TTL   |
//! | `P revoked-at:<jti>`         | string | revoked access token marker, TTL        |
//! | `P audit-seq`                | string | last audit id                           |
//! | `P audit:<subject>`          | zset   | `"<id>:<event JSON>"` scored by id      |
//! | `P key:<name>`               | string | key material                            |
//! | `P layout`                   | string | [`LAYOUT`], the version of this table   |
//!
//! Every change touching a record and an index runs as one Lua script, so it
//! is atomic; read-modify-write of a record (rename, touch, rotate) is a
//! compare-and-set script retried on contention. The layout assumes one
//! primary (standalone or Sentinel): scripts touch keys of several users'
//! slots, which Redis Cluster would refuse.

mod clients;
mod link;
mod scripts;

use std::time::Duration;

use ::redis::{Cmd, FromRedisValue, ScriptInvocation, cmd};
use async_trait::async_trait;
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

pub use self::clients::CLIENT_TTL;
use self::clients::ClientCache;
use self::link::RedisLink;
use self::scripts::*;
use super::shared::{
    SearchHits, check_audit, check_key, check_recovery_hashes, check_ttl, check_user,
    confirmation_event, decode, email_key, encode, is_expired, remaining, search_terms,
    sort_devices, ttl_until,
};
use super::{
    AuditEvent, AuthCodeGrant, BearerSubject, BrowserSession, Client, ConfirmedEnrollment, Device,
    DeviceDeletion, DevicesReset, FirstDeviceCodes, NewAuditEvent, PendingEnrollment,
    REMOVED_BROWSERS, REMOVED_COUNT, RefreshToken, SignInTransaction, Store, StoreError,
    StoreResult, TrustedBrowser, User,
};

/// Where a record is stored: a key of its own, or a field of a hash (a
/// user's devices).
#[derive(Clone, Copy)]
enum Slot<'a> {
    Key(&'a str),
    Field(&'a str, &'a str),
}

/// The key layout this version writes (see the table above); older data is
/// upgraded at connect, see [`RedisStore::upgrade_layout`].
const LAYOUT: u32 = 2;

/// Attempts of a compare-and-set before giving up with `Conflict`.
const CAS_ATTEMPTS: usize = 32;

/// The Redis store.
pub struct RedisStore {
    link: RedisLink,
    prefix: String,
    clients: ClientCache,
}

impl RedisStore {
    /// Connects to `url` (`redis://[:password@]host:port/db`, or
    /// `rediss://` for TLS checked against the system's roots) with every
    /// key under `prefix` (e.g. `tessera:`). The connection is re-established
    /// by itself after Redis restarts; while Redis is down, operations fail
    /// fast with [`StoreError::Unavailable`].
    pub async fn connect(url: &str, prefix: &str) -> StoreResult<Self> {
        Self::open(RedisLink::direct(url, None).await?, prefix).await
    }

    /// Like [`Self::connect`] for a `rediss://` URL whose server certificate
    /// is issued by the CA in `ca_pem` (an organisation's private CA).
    pub async fn connect_with_ca(url: &str, ca_pem: &[u8], prefix: &str) -> StoreResult<Self> {
        Self::open(RedisLink::direct(url, Some(ca_pem)).await?, prefix).await
    }

    /// Connects to the primary that the Sentinel nodes at `sentinels`
    /// (`redis://host:port` URLs) name for `service`, and follows it across
    /// failovers.
    pub async fn connect_sentinel(
        sentinels: &[String],
        service: &str,
        prefix: &str,
    ) -> StoreResult<Self> {
        Self::open(RedisLink::sentinel(sentinels, service).await?, prefix).await
    }

    async fn open(link: RedisLink, prefix: &str) -> StoreResult<Self> {
        let store = RedisStore {
            link,
            prefix: prefix.to_owned(),
            clients: ClientCache::new(CLIENT_TTL),
        };
        store.upgrade_layout().await?;
        Ok(store)
    }

    /// Brings data written by earlier versions to [`LAYOUT`], keeping every
    /// record: layout 1 kept devices as `device:<id>` strings indexed by
    /// `user-devices:<uid>` sets; layout 2 keeps a hash per user (one
    /// command reads them all) and an owner key per id. Safe to run again
    /// (each user's move is one script) and by several instances at once,
    /// all of this version: an instance of an older version still running
    /// would neither see the moved devices nor write where this one reads.
    async fn upgrade_layout(&self) -> StoreResult<()> {
        let marker = self.global("layout");
        let current: Option<u32> = self.query(cmd("GET").arg(&marker)).await?;
        if current.is_some_and(|layout| layout >= LAYOUT) {
            return Ok(());
        }
        let old_index = self.kind_prefix("user-devices");
        let pattern = format!("{}*", glob_escape(&old_index));
        let mut cursor = 0u64;
        loop {
            let (next, keys): (u64, Vec<String>) = self
                .query(
                    cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(&pattern)
                        .arg("COUNT")
                        .arg(1000),
                )
                .await?;
            for index in keys {
                let uid = &index[old_index.len()..];
                let _moved: u64 = self
                    .run(
                        MOVE_DEVICES_TO_HASH
                            .key(&index)
                            .key(self.key("devices", uid))
                            .arg(self.kind_prefix("device"))
                            .arg(self.kind_prefix("device-owner"))
                            .arg(uid),
                    )
                    .await?;
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        self.query::<()>(cmd("SET").arg(&marker).arg(LAYOUT)).await
    }

    fn key(&self, kind: &str, id: &str) -> String {
        // Built by hand rather than with `format!`: every request builds
        // several keys, and the formatting machinery costs more than the copy.
        let mut key = String::with_capacity(self.prefix.len() + kind.len() + 1 + id.len());
        key.push_str(&self.prefix);
        key.push_str(kind);
        key.push(':');
        key.push_str(id);
        key
    }

    fn global(&self, name: &str) -> String {
        format!("{}{name}", self.prefix)
    }

    /// The keys an audit event goes to: the store-wide sequence that gives
    /// its id, and its subject's index (for `append_audit_lua!` scripts).
    /// Both go to `ScriptInvocation::key` at once, as two keys.
    fn audit_keys(&self, subject: &str) -> Vec<String> {
        vec![self.global("audit-seq"), self.key("audit", subject)]
    }

    /// Prefix of the keys of one kind, for scripts that derive keys from
    /// stored ids.
    fn kind_prefix(&self, kind: &str) -> String {
        format!("{}{kind}:", self.prefix)
    }

    async fn query<T: FromRedisValue>(&self, command: &Cmd) -> StoreResult<T> {
        let mut conn = self.link.connection().await?;
        command
            .query_async(&mut conn)
            .await
            .map_err(|err| self.link.failed(err))
    }

    /// Sends `pipe`'s commands in one round trip.
    async fn query_pipe<T: FromRedisValue>(&self, pipe: &::redis::Pipeline) -> StoreResult<T> {
        let mut conn = self.link.connection().await?;
        pipe.query_async(&mut conn)
            .await
            .map_err(|err| self.link.failed(err))
    }

    /// The reads of a bearer check, answered by [`bearer_subject`]: the user
    /// record and the token's revocation marker. Callers may add commands.
    fn bearer_reads(&self, uid: &str, jti: &str) -> ::redis::Pipeline {
        let mut pipe = ::redis::pipe();
        pipe.cmd("GET")
            .arg(self.key("user", uid))
            .cmd("EXISTS")
            .arg(self.key("revoked-at", jti));
        pipe
    }

    /// Runs a prepared script on the primary (EVALSHA, loading the script
    /// again after a restart flushed it).
    async fn run<T: FromRedisValue>(&self, script: &ScriptInvocation<'_>) -> StoreResult<T> {
        let mut conn = self.link.connection().await?;
        script
            .invoke_async(&mut conn)
            .await
            .map_err(|err| self.link.failed(err))
    }

    async fn get_json<T: DeserializeOwned>(&self, key: &str) -> StoreResult<Option<T>> {
        let raw: Option<Vec<u8>> = self.query(cmd("GET").arg(key)).await?;
        raw.map(|bytes| decode(&bytes)).transpose()
    }

    /// Reads the record at `slot`, applies `change` and writes it back unless
    /// it changed meanwhile (then retries). `NotFound` when the record is
    /// missing or `visible` rejects it. Keeps the key's TTL.
    async fn update_record<T, F>(
        &self,
        slot: Slot<'_>,
        what: &'static str,
        visible: impl Fn(&T) -> bool,
        mut change: F,
    ) -> StoreResult<T>
    where
        T: Serialize + DeserializeOwned,
        F: FnMut(&mut T),
    {
        for _ in 0..CAS_ATTEMPTS {
            let read = match slot {
                Slot::Key(key) => cmd("GET").arg(key).clone(),
                Slot::Field(hash, field) => cmd("HGET").arg(hash).arg(field).clone(),
            };
            let Some(raw): Option<Vec<u8>> = self.query(&read).await? else {
                return Err(StoreError::NotFound { what });
            };
            let mut record: T = decode(&raw)?;
            if !visible(&record) {
                return Err(StoreError::NotFound { what });
            }
            change(&mut record);
            let new = encode(&record)?;
            let outcome: i64 = match slot {
                Slot::Key(key) => self.run(CAS_SET.key(key).arg(raw).arg(new)).await?,
                Slot::Field(hash, field) => {
                    self.run(HASH_CAS_SET.key(hash).arg(field).arg(raw).arg(new))
                        .await?
                }
            };
            match outcome {
                1 => return Ok(record),
                0 => return Err(StoreError::NotFound { what }),
                _ => continue,
            }
        }
        Err(StoreError::Conflict(format!(
            "{what} changed concurrently too often"
        )))
    }

    async fn set_with_ttl<T: Serialize>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> StoreResult<()> {
        self.query::<()>(
            cmd("SET")
                .arg(key)
                .arg(encode(value)?)
                .arg("PX")
                .arg(ttl_ms(ttl)),
        )
        .await
    }

    async fn delete(&self, key: &str) -> StoreResult<bool> {
        let removed: u64 = self.query(cmd("DEL").arg(key)).await?;
        Ok(removed > 0)
    }

    async fn users_by_uid(&self, uids: &[String]) -> StoreResult<Vec<User>> {
        if uids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = uids.iter().map(|uid| self.key("user", uid)).collect();
        let raw: Vec<Option<Vec<u8>>> = self.query(cmd("MGET").arg(keys)).await?;
        raw.into_iter()
            .flatten()
            .map(|bytes| decode(&bytes))
            .collect()
    }
}

/// `text` matched literally by a `SCAN MATCH` pattern.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn ttl_ms(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn search_members(user: &User) -> Vec<Vec<u8>> {
    search_terms(user)
        .into_iter()
        .map(|term| format!("{term}\0{}", user.uid).into_bytes())
        .collect()
}

/// The devices of `uid` among stored device records, in the listing order.
fn owned_devices(raw: Vec<Vec<u8>>, uid: &str) -> StoreResult<Vec<Device>> {
    let mut devices: Vec<Device> = decode_all(raw)?;
    devices.retain(|device| device.uid == uid);
    sort_devices(&mut devices);
    Ok(devices)
}

/// A [`BearerSubject`] from the stored user record (if any) and the `EXISTS`
/// answer for the token's revocation marker.
fn bearer_subject(user: Option<Vec<u8>>, revoked: u64) -> StoreResult<BearerSubject> {
    Ok(BearerSubject {
        token_revoked: revoked == 1,
        user: user.map(|bytes| decode(&bytes)).transpose()?,
    })
}

fn decode_all<T: DeserializeOwned>(raw: Vec<Vec<u8>>) -> StoreResult<Vec<T>> {
    raw.iter().map(|bytes| decode(bytes)).collect()
}

#[async_trait]
impl Store for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    async fn ping(&self) -> StoreResult<()> {
        let _: String = self.query(&cmd("PING")).await?;
        Ok(())
    }

    // ----- users -----

    async fn create_user(&self, user: &User) -> StoreResult<()> {
        check_user(user)?;
        let outcome: i64 = self
            .run(
                CREATE_USER
                    .key(self.key("user", &user.uid))
                    .key(self.key("user-email", &email_key(&user.email)))
                    .key(self.global("users"))
                    .key(self.global("user-search"))
                    .arg(encode(user)?)
                    .arg(&user.uid)
                    .arg(search_members(user)),
            )
            .await?;
        match outcome {
            0 => Ok(()),
            1 => Err(StoreError::AlreadyExists { what: "user" }),
            _ => Err(StoreError::AlreadyExists { what: "user email" }),
        }
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        check_user(user)?;
        let key = self.key("user", &user.uid);
        for _ in 0..CAS_ATTEMPTS {
            let Some(raw): Option<Vec<u8>> = self.query(cmd("GET").arg(&key)).await? else {
                return Err(StoreError::NotFound { what: "user" });
            };
            let old: User = decode(&raw)?;
            let old_members = search_members(&old);
            let outcome: i64 = self
                .run(
                    UPDATE_USER
                        .key(&key)
                        .key(self.key("user-email", &email_key(&old.email)))
                        .key(self.key("user-email", &email_key(&user.email)))
                        .key(self.global("user-search"))
                        .arg(raw)
                        .arg(encode(user)?)
                        .arg(&user.uid)
                        .arg(old_members.len())
                        .arg(old_members)
                        .arg(search_members(user)),
                )
                .await?;
            match outcome {
                0 => return Ok(()),
                1 => return Err(StoreError::NotFound { what: "user" }),
                2 => return Err(StoreError::AlreadyExists { what: "user email" }),
                _ => continue,
            }
        }
        Err(StoreError::Conflict(
            "user changed concurrently too often".into(),
        ))
    }

    async fn get_user(&self, uid: &str) -> StoreResult<Option<User>> {
        self.get_json(&self.key("user", uid)).await
    }

    async fn get_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let raw: Option<Vec<u8>> = self
            .run(
                GET_VIA
                    .key(self.key("user-email", &email_key(email)))
                    .arg(self.kind_prefix("user")),
            )
            .await?;
        raw.map(|bytes| decode(&bytes)).transpose()
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        let raw: Vec<Vec<u8>> = self
            .run(
                LIST_ZSET_RECORDS
                    .key(self.global("users"))
                    .arg(self.kind_prefix("user")),
            )
            .await?;
        decode_all(raw)
    }

    async fn search_users(&self, prefix: &str, limit: usize) -> StoreResult<Vec<User>> {
        let prefix = prefix.trim().to_lowercase();
        let mut min = b"[".to_vec();
        min.extend_from_slice(prefix.as_bytes());
        let mut max = min.clone();
        // No UTF-8 string contains 0xFF: every member starting with the
        // prefix sorts below prefix + 0xFF.
        max.push(0xFF);
        // Pages of the index in order, each starting after the last member
        // read, until enough users are found: a few users' terms per page.
        let page = limit.saturating_mul(4).clamp(16, 1024);
        let mut hits = SearchHits::new(limit);
        while !hits.is_full() {
            let members: Vec<Vec<u8>> = self
                .query(
                    cmd("ZRANGEBYLEX")
                        .arg(self.global("user-search"))
                        .arg(&min)
                        .arg(&max)
                        .arg("LIMIT")
                        .arg(0)
                        .arg(page),
                )
                .await?;
            for member in &members {
                let member = std::str::from_utf8(member).map_err(StoreError::corrupt)?;
                if !hits.add(member) {
                    break;
                }
            }
            match members.last() {
                Some(last) if members.len() == page => {
                    min = b"(".to_vec();
                    min.extend_from_slice(last);
                }
                _ => break,
            }
        }
        self.users_by_uid(&hits.into_uids()).await
    }

    async fn set_user_disabled(&self, uid: &str, disabled: bool) -> StoreResult<()> {
        self.update_record(
            Slot::Key(&self.key("user", uid)),
            "user",
            |_: &User| true,
            |user| user.disabled = disabled,
        )
        .await
        .map(drop)
    }

    // ----- clients -----

    async fn create_client(&self, client: &Client) -> StoreResult<()> {
        check_key("client id", &client.client_id)?;
        let created: i64 = self
            .run(
                CREATE_LISTED
                    .key(self.key("client", &client.client_id))
                    .key(self.global("clients"))
                    .arg(encode(client)?)
                    .arg(&client.client_id),
            )
            .await?;
        if created == 1 {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists { what: "client" })
        }
    }

    /// Kept in the process for [`CLIENT_TTL`] once found (see `clients`).
    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        if let Some(client) = self.clients.get(client_id) {
            return Ok(Some(client));
        }
        let client: Option<Client> = self.get_json(&self.key("client", client_id)).await?;
        if let Some(client) = &client {
            self.clients.put(client);
        }
        Ok(client)
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        let raw: Vec<Vec<u8>> = self
            .run(
                LIST_ZSET_RECORDS
                    .key(self.global("clients"))
                    .arg(self.kind_prefix("client")),
            )
            .await?;
        decode_all(raw)
    }

    // ----- devices -----

    async fn create_device(&self, device: &Device) -> StoreResult<()> {
        check_key("uid", &device.uid)?;
        check_key("device id", &device.id)?;
        let created: i64 = self
            .run(
                CREATE_DEVICE
                    .key(self.key("device-owner", &device.id))
                    .key(self.key("devices", &device.uid))
                    .arg(&device.uid)
                    .arg(&device.id)
                    .arg(encode(device)?),
            )
            .await?;
        if created == 1 {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists { what: "device" })
        }
    }

    async fn list_devices(&self, uid: &str) -> StoreResult<Vec<Device>> {
        let raw: Vec<Vec<u8>> = self
            .query(cmd("HVALS").arg(self.key("devices", uid)))
            .await?;
        owned_devices(raw, uid)
    }

    async fn get_device(&self, uid: &str, id: &str) -> StoreResult<Option<Device>> {
        let raw: Option<Vec<u8>> = self
            .query(cmd("HGET").arg(self.key("devices", uid)).arg(id))
            .await?;
        let device: Option<Device> = raw.map(|bytes| decode(&bytes)).transpose()?;
        Ok(device.filter(|d| d.uid == uid))
    }

    async fn rename_device(&self, uid: &str, id: &str, name: &str) -> StoreResult<Device> {
        self.update_record(
            Slot::Field(&self.key("devices", uid), id),
            "device",
            |d: &Device| d.uid == uid,
            |d| d.name = name.to_owned(),
        )
        .await
    }

    async fn touch_device(&self, uid: &str, id: &str, at: OffsetDateTime) -> StoreResult<()> {
        // One script in place of read + compare-and-set (a round trip fewer
        // on every sign-in with a code), for records in this version's form.
        let when = at
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(StoreError::corrupt)?;
        let touched: i64 = self
            .run(
                TOUCH_DEVICE
                    .key(self.key("devices", uid))
                    .arg(id)
                    .arg(encode(&when)?),
            )
            .await?;
        match touched {
            1 => return Ok(()),
            0 => return Err(StoreError::NotFound { what: "device" }),
            _ => {}
        }
        self.update_record(
            Slot::Field(&self.key("devices", uid), id),
            "device",
            |d: &Device| d.uid == uid,
            |d| d.last_used_at = Some(at),
        )
        .await
        .map(drop)
    }

    async fn delete_device(&self, uid: &str, id: &str, audit: &NewAuditEvent) -> StoreResult<bool> {
        check_audit(uid, audit)?;
        let deleted: i64 = self
            .run(
                DELETE_DEVICE
                    .key(self.key("devices", uid))
                    .key(self.key("device-owner", id))
                    .key(self.audit_keys(uid))
                    .arg(id)
                    .arg(encode(audit)?),
            )
            .await?;
        Ok(deleted == 1)
    }

    async fn reset_devices(
        &self,
        uid: &str,
        at: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> StoreResult<DevicesReset> {
        check_audit(uid, audit)?;
        let audit = encode(audit)?;
        let key = self.key("user", uid);
        for _ in 0..CAS_ATTEMPTS {
            let Some(raw): Option<Vec<u8>> = self.query(cmd("GET").arg(&key)).await? else {
                return Err(StoreError::NotFound { what: "user" });
            };
            let mut user: User = decode(&raw)?;
            user.devices_reset_at = Some(at);
            let outcome: Vec<i64> = self
                .run(
                    RESET_DEVICES
                        .key(&key)
                        .key(self.key("devices", uid))
                        .key(self.key("recovery", uid))
                        .key(self.key("user-browsers", uid))
                        .key(self.audit_keys(uid))
                        .arg(raw)
                        .arg(encode(&user)?)
                        .arg(self.kind_prefix("device-owner"))
                        .arg(self.kind_prefix("browser"))
                        .arg(self.kind_prefix("browser-token"))
                        .arg(uid)
                        .arg(&audit)
                        .arg(REMOVED_COUNT)
                        .arg(REMOVED_BROWSERS),
                )
                .await?;
            match outcome[..] {
                [devices, browsers] => {
                    return Ok(DevicesReset {
                        devices: devices as u64,
                        browsers: browsers as u64,
                    });
                }
                [-1] => return Err(StoreError::NotFound { what: "user" }),
                _ => continue,
            }
        }
        Err(StoreError::Conflict(
            "user changed concurrently too often".into(),
        ))
    }

    async fn delete_device_unless_last(
        &self,
        uid: &str,
        id: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<DeviceDeletion> {
        check_audit(uid, audit)?;
        let outcome: i64 = self
            .run(
                DELETE_DEVICE_UNLESS_LAST
                    .key(self.key("devices", uid))
                    .key(self.key("device-owner", id))
                    .key(self.audit_keys(uid))
                    .arg(id)
                    .arg(encode(audit)?),
            )
            .await?;
        Ok(match outcome {
            1 => DeviceDeletion::Deleted,
            2 => DeviceDeletion::LastDevice,
            _ => DeviceDeletion::NotFound,
        })
    }

    // ----- pending enrolments -----

    async fn put_pending_enrollment(&self, pending: &PendingEnrollment) -> StoreResult<()> {
        check_key("uid", &pending.uid)?;
        check_key("enrollment id", &pending.id)?;
        let ttl = ttl_until("enrollment", pending.expires_at)?;
        let stored: i64 = self
            .run(
                PUT_PENDING
                    .key(self.key("pending", &pending.id))
                    .key(self.key("device-owner", &pending.id))
                    .arg(encode(pending)?)
                    .arg(ttl_ms(ttl)),
            )
            .await?;
        if stored == 1 {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists { what: "enrollment" })
        }
    }

    async fn get_pending_enrollment(
        &self,
        uid: &str,
        id: &str,
    ) -> StoreResult<Option<PendingEnrollment>> {
        let pending: Option<PendingEnrollment> = self.get_json(&self.key("pending", id)).await?;
        Ok(pending.filter(|p| p.uid == uid && !is_expired(p.expires_at)))
    }

    async fn delete_pending_enrollment(&self, uid: &str, id: &str) -> StoreResult<bool> {
        if self.get_pending_enrollment(uid, id).await?.is_none() {
            return Ok(false);
        }
        self.delete(&self.key("pending", id)).await
    }

    async fn confirm_enrollment(
        &self,
        uid: &str,
        id: &str,
        at: OffsetDateTime,
        max_devices: u32,
        first_device_codes: Option<FirstDeviceCodes<'_>>,
        audit: &NewAuditEvent,
    ) -> StoreResult<ConfirmedEnrollment> {
        check_audit(uid, audit)?;
        let (hashes, codes_audit) = match first_device_codes {
            Some(codes) => {
                check_recovery_hashes(codes.hashes)?;
                check_audit(uid, codes.audit)?;
                (codes.hashes, encode(codes.audit)?)
            }
            None => (&[][..], Vec::new()),
        };
        let key = self.key("pending", id);
        let user_key = self.key("user", uid);
        for _ in 0..CAS_ATTEMPTS {
            // The user is read with the enrolment and must be unchanged when
            // the script runs: a reset of the devices in between voids it.
            let mut reads = ::redis::pipe();
            reads.cmd("GET").arg(&key).cmd("GET").arg(&user_key);
            let (raw, user_raw): (Option<Vec<u8>>, Option<Vec<u8>>) =
                self.query_pipe(&reads).await?;
            let Some(raw) = raw else {
                return Err(StoreError::NotFound { what: "enrollment" });
            };
            let pending: PendingEnrollment = decode(&raw)?;
            let reset = match &user_raw {
                Some(user) => decode::<User>(user)?.devices_reset_at,
                None => None,
            };
            let Some(device) = pending.confirmed_by(uid, at, reset) else {
                return Err(StoreError::NotFound { what: "enrollment" });
            };
            let mut confirm = CONFIRM_ENROLLMENT.prepare_invoke();
            confirm
                .key(&key)
                .key(self.key("device-owner", id))
                .key(self.key("devices", uid))
                .key(self.key("recovery", uid))
                .key(&user_key)
                .key(self.audit_keys(uid))
                .arg(raw)
                .arg(encode(&device)?)
                .arg(id)
                .arg(uid)
                .arg(u8::from(first_device_codes.is_some()))
                .arg(user_raw.unwrap_or_default())
                .arg(encode(&confirmation_event(audit, &device))?)
                .arg(&codes_audit)
                .arg(max_devices);
            for hash in hashes {
                confirm.arg(hash);
            }
            let outcome: i64 = self.run(&confirm).await?;
            match outcome {
                1 | 3 => {
                    return Ok(ConfirmedEnrollment {
                        device,
                        first_device: outcome == 3,
                    });
                }
                2 => return Err(StoreError::AlreadyExists { what: "device" }),
                4 => continue,
                5 => return Err(StoreError::TooManyDevices { max: max_devices }),
                _ => return Err(StoreError::NotFound { what: "enrollment" }),
            }
        }
        Err(StoreError::Conflict(
            "the user changed concurrently too often".into(),
        ))
    }

    // ----- recovery codes -----

    async fn replace_recovery_codes(
        &self,
        uid: &str,
        hashes: &[String],
        audit: &NewAuditEvent,
    ) -> StoreResult<()> {
        check_key("uid", uid)?;
        check_recovery_hashes(hashes)?;
        check_audit(uid, audit)?;
        let mut replace = REPLACE_RECOVERY_CODES.prepare_invoke();
        replace
            .key(self.key("recovery", uid))
            .key(self.audit_keys(uid))
            .arg(encode(audit)?);
        for hash in hashes {
            replace.arg(hash);
        }
        self.run::<i64>(&replace).await.map(drop)
    }

    async fn consume_recovery_code(&self, uid: &str, hash: &str) -> StoreResult<bool> {
        let removed: u64 = self
            .query(cmd("SREM").arg(self.key("recovery", uid)).arg(hash))
            .await?;
        Ok(removed == 1)
    }

    async fn count_recovery_codes(&self, uid: &str) -> StoreResult<u64> {
        self.query(cmd("SCARD").arg(self.key("recovery", uid)))
            .await
    }

    // ----- trusted browsers -----

    async fn create_trusted_browser(&self, browser: &TrustedBrowser) -> StoreResult<()> {
        check_key("uid", &browser.uid)?;
        check_key("browser id", &browser.id)?;
        check_key("token hash", &browser.token_hash)?;
        let ttl = ttl_until("trusted browser", browser.expires_at)?;
        let created: i64 = self
            .run(
                CREATE_BROWSER
                    .key(self.key("browser", &browser.id))
                    .key(self.key("browser-token", &browser.token_hash))
                    .key(self.key("user-browsers", &browser.uid))
                    .arg(encode(browser)?)
                    .arg(&browser.id)
                    .arg(ttl_ms(ttl)),
            )
            .await?;
        if created == 1 {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists {
                what: "trusted browser",
            })
        }
    }

    async fn list_trusted_browsers(&self, uid: &str) -> StoreResult<Vec<TrustedBrowser>> {
        let raw: Vec<Vec<u8>> = self
            .run(
                LIST_INDEXED
                    .key(self.key("user-browsers", uid))
                    .arg(self.kind_prefix("browser")),
            )
            .await?;
        let mut browsers: Vec<TrustedBrowser> = decode_all(raw)?;
        browsers.retain(|b| b.uid == uid && !is_expired(b.expires_at));
        browsers.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        Ok(browsers)
    }

    async fn find_trusted_browser(&self, token_hash: &str) -> StoreResult<Option<TrustedBrowser>> {
        let raw: Option<Vec<u8>> = self
            .run(
                GET_VIA
                    .key(self.key("browser-token", token_hash))
                    .arg(self.kind_prefix("browser")),
            )
            .await?;
        let browser: Option<TrustedBrowser> = raw.map(|bytes| decode(&bytes)).transpose()?;
        Ok(browser.filter(|b| b.token_hash == token_hash && !is_expired(b.expires_at)))
    }

    async fn touch_trusted_browser(
        &self,
        uid: &str,
        id: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        self.update_record(
            Slot::Key(&self.key("browser", id)),
            "trusted browser",
            |b: &TrustedBrowser| b.uid == uid && !is_expired(b.expires_at),
            |b| b.last_used_at = Some(at),
        )
        .await
        .map(drop)
    }

    async fn revoke_trusted_browser(
        &self,
        uid: &str,
        id: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool> {
        check_audit(uid, audit)?;
        let revoked: i64 = self
            .run(
                REVOKE_BROWSER
                    .key(self.key("browser", id))
                    .key(self.key("user-browsers", uid))
                    .key(self.audit_keys(uid))
                    .arg(uid)
                    .arg(id)
                    .arg(self.kind_prefix("browser-token"))
                    .arg(encode(audit)?),
            )
            .await?;
        Ok(revoked == 1)
    }

    async fn revoke_all_trusted_browsers(
        &self,
        uid: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<u64> {
        check_audit(uid, audit)?;
        self.run(
            REVOKE_ALL_BROWSERS
                .key(self.key("user-browsers", uid))
                .key(self.audit_keys(uid))
                .arg(self.kind_prefix("browser"))
                .arg(self.kind_prefix("browser-token"))
                .arg(uid)
                .arg(encode(audit)?)
                .arg(REMOVED_COUNT),
        )
        .await
    }

    // ----- authorization codes -----

    async fn put_auth_code(
        &self,
        code_hash: &str,
        grant: &AuthCodeGrant,
        ttl: Duration,
    ) -> StoreResult<()> {
        check_key("code hash", code_hash)?;
        check_ttl("authorization code", ttl)?;
        let stored: Option<String> = self
            .query(
                cmd("SET")
                    .arg(self.key("code", code_hash))
                    .arg(encode(grant)?)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms(ttl)),
            )
            .await?;
        match stored {
            Some(_) => Ok(()),
            None => Err(StoreError::AlreadyExists {
                what: "authorization code",
            }),
        }
    }

    async fn get_auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeGrant>> {
        self.get_json(&self.key("code", code_hash)).await
    }

    async fn take_auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeGrant>> {
        let raw: Option<Vec<u8>> = self
            .query(cmd("GETDEL").arg(self.key("code", code_hash)))
            .await?;
        raw.map(|bytes| decode(&bytes)).transpose()
    }

    async fn redeem_auth_code(
        &self,
        code_hash: &str,
        refresh_hash: &str,
        refresh: &RefreshToken,
        remember_until: OffsetDateTime,
    ) -> StoreResult<bool> {
        check_key("token hash", refresh_hash)?;
        check_key("family id", &refresh.family_id)?;
        let ttl = ttl_until("refresh token", refresh.expires_at)?;
        // 0 ms: not remembered (already past).
        let remember_ms = remaining(remember_until).map_or(0, ttl_ms);
        let outcome: i64 = self
            .run(
                REDEEM_CODE
                    .key(self.key("code", code_hash))
                    .key(self.key("refresh", refresh_hash))
                    .key(self.key("refresh-family", &refresh.family_id))
                    .key(self.key("redeemed-code", code_hash))
                    .arg(encode(refresh)?)
                    .arg(ttl_ms(ttl))
                    .arg(refresh_hash)
                    .arg(&refresh.family_id)
                    .arg(remember_ms),
            )
            .await?;
        match outcome {
            1 => Ok(true),
            0 => Ok(false),
            _ => Err(StoreError::AlreadyExists {
                what: "refresh token",
            }),
        }
    }

    // ----- refresh tokens -----

    async fn put_refresh_token(&self, token_hash: &str, token: &RefreshToken) -> StoreResult<()> {
        check_key("token hash", token_hash)?;
        check_key("family id", &token.family_id)?;
        let ttl = ttl_until("refresh token", token.expires_at)?;
        let stored: i64 = self
            .run(
                PUT_REFRESH
                    .key(self.key("refresh", token_hash))
                    .key(self.key("refresh-family", &token.family_id))
                    .arg(encode(token)?)
                    .arg(ttl_ms(ttl))
                    .arg(token_hash),
            )
            .await?;
        if stored == 1 {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists {
                what: "refresh token",
            })
        }
    }

    async fn get_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        let token: Option<RefreshToken> = self.get_json(&self.key("refresh", token_hash)).await?;
        Ok(token.filter(|t| !is_expired(t.expires_at)))
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        new: &RefreshToken,
    ) -> StoreResult<RefreshToken> {
        check_key("token hash", new_hash)?;
        let ttl = ttl_until("refresh token", new.expires_at)?;
        let old_key = self.key("refresh", old_hash);
        let new_json = encode(new)?;
        for _ in 0..CAS_ATTEMPTS {
            let Some(raw): Option<Vec<u8>> = self.query(cmd("GET").arg(&old_key)).await? else {
                return Err(StoreError::NotFound {
                    what: "refresh token",
                });
            };
            let old: RefreshToken = decode(&raw)?;
            if is_expired(old.expires_at) {
                return Err(StoreError::NotFound {
                    what: "refresh token",
                });
            }
            if old.used {
                self.revoke_refresh_family(&old.family_id).await?;
                return Err(StoreError::RefreshReuse {
                    family_id: old.family_id,
                });
            }
            if new.family_id != old.family_id {
                return Err(StoreError::Conflict(
                    "the new refresh token is not in the old one's family".into(),
                ));
            }
            let used = RefreshToken {
                used: true,
                ..old.clone()
            };
            let outcome: i64 = self
                .run(
                    ROTATE_REFRESH
                        .key(&old_key)
                        .key(self.key("refresh", new_hash))
                        .key(self.key("refresh-family", &old.family_id))
                        .arg(raw)
                        .arg(encode(&used)?)
                        .arg(&new_json)
                        .arg(ttl_ms(ttl))
                        .arg(new_hash),
                )
                .await?;
            match outcome {
                1 => return Ok(old),
                0 => {
                    return Err(StoreError::NotFound {
                        what: "refresh token",
                    });
                }
                3 => {
                    return Err(StoreError::AlreadyExists {
                        what: "refresh token",
                    });
                }
                // Changed meanwhile (most likely rotated concurrently): read
                // again, which detects the reuse.
                _ => continue,
            }
        }
        Err(StoreError::Conflict(
            "refresh token changed concurrently too often".into(),
        ))
    }

    async fn revoke_refresh_token(&self, token_hash: &str) -> StoreResult<bool> {
        let revoked: i64 = self
            .run(
                REVOKE_REFRESH
                    .key(self.key("refresh", token_hash))
                    .arg(self.kind_prefix("refresh-family"))
                    .arg(token_hash),
            )
            .await?;
        Ok(revoked == 1)
    }

    async fn revoke_refresh_family(&self, family_id: &str) -> StoreResult<u64> {
        self.run(
            REVOKE_FAMILY
                .key(self.key("refresh-family", family_id))
                .arg(self.kind_prefix("refresh")),
        )
        .await
    }

    async fn redeemed_code_family(&self, code_hash: &str) -> StoreResult<Option<String>> {
        self.query(cmd("GET").arg(self.key("redeemed-code", code_hash)))
            .await
    }

    // ----- access token revocation -----

    async fn revoke_access_token(&self, jti: &str, expires_at: OffsetDateTime) -> StoreResult<()> {
        check_key("jti", jti)?;
        let Some(ttl) = remaining(expires_at) else {
            return Ok(());
        };
        self.query(
            cmd("SET")
                .arg(self.key("revoked-at", jti))
                .arg(1)
                .arg("PX")
                .arg(ttl_ms(ttl)),
        )
        .await
    }

    async fn bearer_subject(&self, uid: &str, jti: &str) -> StoreResult<BearerSubject> {
        let (user, revoked) = self.query_pipe(&self.bearer_reads(uid, jti)).await?;
        bearer_subject(user, revoked)
    }

    async fn bearer_subject_and_devices(
        &self,
        uid: &str,
        jti: &str,
    ) -> StoreResult<(BearerSubject, Vec<Device>)> {
        // One round trip, no script: what `bearer_subject` reads and the
        // user's devices hash.
        let mut reads = self.bearer_reads(uid, jti);
        reads.cmd("HVALS").arg(self.key("devices", uid));
        let (user, revoked, raw) = self.query_pipe(&reads).await?;
        Ok((bearer_subject(user, revoked)?, owned_devices(raw, uid)?))
    }

    // ----- sessions and transactions -----

    async fn put_session(&self, id_hash: &str, session: &BrowserSession) -> StoreResult<()> {
        check_key("session id hash", id_hash)?;
        let ttl = ttl_until("session", session.expires_at)?;
        self.set_with_ttl(&self.key("session", id_hash), session, ttl)
            .await
    }

    async fn get_session(&self, id_hash: &str) -> StoreResult<Option<BrowserSession>> {
        let session: Option<BrowserSession> = self.get_json(&self.key("session", id_hash)).await?;
        Ok(session.filter(|s| !is_expired(s.expires_at)))
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool> {
        self.delete(&self.key("session", id_hash)).await
    }

    async fn put_transaction(&self, id: &str, txn: &SignInTransaction) -> StoreResult<()> {
        check_key("transaction id", id)?;
        let ttl = ttl_until("sign-in transaction", txn.expires_at)?;
        self.set_with_ttl(&self.key("txn", id), txn, ttl).await
    }

    async fn get_transaction(&self, id: &str) -> StoreResult<Option<SignInTransaction>> {
        let txn: Option<SignInTransaction> = self.get_json(&self.key("txn", id)).await?;
        Ok(txn.filter(|t| !is_expired(t.expires_at)))
    }

    async fn delete_transaction(&self, id: &str) -> StoreResult<bool> {
        self.delete(&self.key("txn", id)).await
    }

    // ----- TOTP replay protection -----

    async fn mark_code_used(&self, code_id: &str, ttl: Duration) -> StoreResult<bool> {
        check_key("code id", code_id)?;
        check_ttl("used code marker", ttl)?;
        let set: Option<String> = self
            .query(
                cmd("SET")
                    .arg(self.key("used", code_id))
                    .arg(1)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms(ttl)),
            )
            .await?;
        Ok(set.is_some())
    }

    async fn unmark_code_used(&self, code_id: &str) -> StoreResult<bool> {
        check_key("code id", code_id)?;
        self.delete(&self.key("used", code_id)).await
    }

    // ----- rate limiting -----

    async fn rate_limit_hits(&self, keys: &[&str], window: Duration) -> StoreResult<Vec<u64>> {
        check_ttl("rate limit window", window)?;
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        // A window opens with its key's first hit (`SET NX` with the TTL;
        // `INCR` keeps it). MULTI rather than a script: a Lua call costs
        // Redis several times these four commands, and every password and
        // code is counted.
        let mut hits = ::redis::pipe();
        hits.atomic();
        for key in keys {
            check_key("rate limit key", key)?;
            let key = self.key("rate", key);
            hits.cmd("SET")
                .arg(&key)
                .arg(0)
                .arg("NX")
                .arg("PX")
                .arg(ttl_ms(window))
                .ignore()
                .cmd("INCR")
                .arg(&key);
        }
        self.query_pipe(&hits).await
    }

    async fn rate_limit_release(&self, keys: &[&str]) -> StoreResult<()> {
        let mut release = RATE_RELEASE.prepare_invoke();
        for key in keys {
            release.key(self.key("rate", key));
        }
        let _: i64 = self.run(&release).await?;
        Ok(())
    }

    async fn rate_limit_count(&self, key: &str) -> StoreResult<u64> {
        let count: Option<u64> = self.query(cmd("GET").arg(self.key("rate", key))).await?;
        Ok(count.unwrap_or(0))
    }

    async fn rate_limit_reset(&self, key: &str) -> StoreResult<()> {
        self.delete(&self.key("rate", key)).await.map(drop)
    }

    async fn rate_limit_ttl(&self, key: &str) -> StoreResult<Option<Duration>> {
        let ms: i64 = self.query(cmd("PTTL").arg(self.key("rate", key))).await?;
        // -2: no such key, -1: no expiry (never set by this store).
        Ok(u64::try_from(ms).ok().map(Duration::from_millis))
    }

    // ----- audit -----

    async fn append_audit(&self, event: &NewAuditEvent) -> StoreResult<AuditEvent> {
        check_key("audit subject", &event.subject)?;
        let id: u64 = self
            .run(
                APPEND_AUDIT
                    .key(self.audit_keys(&event.subject))
                    .arg(encode(event)?),
            )
            .await?;
        Ok(AuditEvent {
            id,
            event: event.clone(),
        })
    }

    async fn list_audit(
        &self,
        subject: &str,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<AuditEvent>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let max = match before {
            Some(before) => format!("({before}"),
            None => "+inf".to_owned(),
        };
        let members: Vec<Vec<u8>> = self
            .query(
                cmd("ZREVRANGEBYSCORE")
                    .arg(self.key("audit", subject))
                    .arg(max)
                    .arg("-inf")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(limit),
            )
            .await?;
        members
            .iter()
            .map(|member| {
                let split = member
                    .iter()
                    .position(|&b| b == b':')
                    .ok_or_else(|| StoreError::Corrupt("audit member without id".into()))?;
                let id = std::str::from_utf8(&member[..split])
                    .ok()
                    .and_then(|id| id.parse().ok())
                    .ok_or_else(|| StoreError::Corrupt("audit member with a bad id".into()))?;
                Ok(AuditEvent {
                    id,
                    event: decode(&member[split + 1..])?,
                })
            })
            .collect()
    }

    // ----- key material -----

    async fn get_key_material(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.query(cmd("GET").arg(self.key("key", name))).await
    }

    async fn put_key_material(&self, name: &str, value: &[u8]) -> StoreResult<()> {
        check_key("key name", name)?;
        self.query(cmd("SET").arg(self.key("key", name)).arg(value))
            .await
    }

    async fn put_key_material_if_absent(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        check_key("key name", name)?;
        self.run(SET_IF_ABSENT.key(self.key("key", name)).arg(value))
            .await
    }

    async fn delete_key_material(&self, name: &str) -> StoreResult<bool> {
        check_key("key name", name)?;
        self.delete(&self.key("key", name)).await
    }

    async fn purge_expired(&self) -> StoreResult<u64> {
        // Redis expires keys itself; stale index entries are dropped when
        // their index is listed.
        Ok(0)
    }
}

#[cfg(test)]
mod tests {
    use super::link::map_error as redis_error;
    use super::*;
    use ::redis::{ErrorKind, RedisError};

    #[test]
    fn connection_problems_are_unavailable_and_bad_replies_corrupt() {
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert_eq!(redis_error(refused).code(), "unavailable");
        let parse = RedisError::from((ErrorKind::Parse, "unexpected reply"));
        assert_eq!(redis_error(parse).code(), "corrupt");
        let typed = RedisError::from((ErrorKind::UnexpectedReturnType, "not an integer"));
        assert_eq!(redis_error(typed).code(), "corrupt");
    }

    #[test]
    fn ttl_is_at_least_one_millisecond() {
        assert_eq!(ttl_ms(Duration::from_micros(10)), 1);
        assert_eq!(ttl_ms(Duration::from_secs(60)), 60_000);
    }
}
