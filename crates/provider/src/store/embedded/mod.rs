//! The embedded store: one redb file, every change one ACID write transaction.
//!
//! Each operation is one transaction: durable writes through the group
//! committer (`commit`), others on Tokio's blocking pool. The tables and the
//! steps shared by several operations are in `tables`, so "listed" and
//! "stored" cannot diverge. Expiry is checked on every read; a
//! background task purges expired records every minute.

mod commit;
mod tables;

pub use commit::{COMMIT_THREAD, Commits, FLUSH_EVERY, lazily, together};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use redb::{
    Database, Durability, ReadTransaction, ReadableDatabase, ReadableTable, WriteTransaction,
};
use time::OffsetDateTime;

use self::tables::*;
use super::shared::{
    SearchHits, check_audit, check_key, check_recovery_hashes, check_ttl, check_user,
    confirmation_event, decode, email_key, encode, is_expired, now, sort_devices, ttl_until,
    unix_ms,
};
use super::{
    AuditEvent, AuthCodeGrant, BearerSubject, BrowserSession, Client, ConfirmedEnrollment, Device,
    DeviceDeletion, DevicesReset, FirstDeviceCodes, NewAuditEvent, PendingEnrollment,
    REMOVED_BROWSERS, REMOVED_COUNT, RefreshToken, SignInTransaction, Store, StoreError,
    StoreResult, TrustedBrowser, User,
};

/// How often the background task purges expired records.
const PURGE_INTERVAL: Duration = Duration::from_secs(60);

/// File name of the database inside the data directory.
pub const FILE_NAME: &str = "tessera.redb";

/// The embedded store (the default): a single redb file.
pub struct EmbeddedStore {
    db: Arc<Database>,
    committer: commit::Committer,
    path: PathBuf,
    /// Whether the file carries this process's open mark (not in memory).
    marked_open: bool,
    recovered_at: Option<OffsetDateTime>,
}

impl EmbeddedStore {
    /// Opens (or creates) `tessera.redb` in `data_dir`, creating the
    /// directory. Starts the periodic purge when called inside a Tokio
    /// runtime; it stops when the store is dropped.
    pub fn open(data_dir: &Path) -> StoreResult<Self> {
        std::fs::create_dir_all(data_dir).map_err(|err| {
            StoreError::Unavailable(format!("cannot create {}: {err}", data_dir.display()))
        })?;
        Self::open_file(&data_dir.join(FILE_NAME))
    }

    /// Opens (or creates) the database at `path`.
    pub fn open_file(path: &Path) -> StoreResult<Self> {
        let db = Database::create(path).map_err(|err| match err {
            // Commands of the command line open the file too.
            redb::DatabaseError::DatabaseAlreadyOpen => StoreError::Unavailable(format!(
                "{} is in use by a running provider: stop it first (one process at a time opens the embedded store)",
                path.display()
            )),
            err => StoreError::Unavailable(format!("cannot open {}: {err}", path.display())),
        })?;
        Self::with_database(db, path.to_owned(), true)
    }

    /// A store kept in memory only: the same code on redb's in-memory
    /// backend, for unit tests that want no file. Lost on drop.
    pub fn in_memory() -> StoreResult<Self> {
        let db = redb::Builder::new()
            .create_with_backend(redb::backends::InMemoryBackend::new())
            .map_err(|err| StoreError::Unavailable(format!("in-memory store: {err}")))?;
        Self::with_database(db, PathBuf::from(":memory:"), false)
    }

    fn with_database(db: Database, path: PathBuf, persistent: bool) -> StoreResult<Self> {
        let now = OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
        let opened = commit::transact(&db, Durability::Immediate, |txn| {
            create_tables(txn)?;
            match persistent {
                true => mark_open(txn, now).map(Some),
                false => Ok(None),
            }
        })?;
        if opened.as_ref().is_some_and(|o| o.unclean) {
            tracing::warn!(
                path = %path.display(),
                "the embedded store was not closed cleanly (a crash or kill -9): \
                 codes shown before now are refused until the next ones"
            );
        }
        let recovered_at = opened
            .and_then(|o| o.recovered_at)
            .and_then(|at| OffsetDateTime::from_unix_timestamp(i64::try_from(at).ok()?).ok());
        let db = Arc::new(db);
        let committer = commit::Committer::start(db.clone())?;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(purge_periodically(committer.exclusive()));
        }
        Ok(EmbeddedStore {
            db,
            committer,
            path,
            marked_open: persistent,
            recovered_at,
        })
    }

    /// The committer's counts since the store opened.
    pub fn commits(&self) -> Commits {
        self.committer.commits()
    }

    /// Where the database file is (`:memory:` for [`Self::in_memory`]).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in a write transaction; commits when it returns `Ok` and
    /// answers once the commit is on disk (group commit, see `commit`),
    /// keeps none of its changes otherwise. `f` may run twice, against the
    /// same state, if another write of its batch fails.
    async fn write<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnMut(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    {
        self.committer.write(true, f).await
    }

    /// Like [`Self::write`] but without waiting for the disk: for writes
    /// that only add short-lived data (authorization codes, sessions, sign-in
    /// transactions, rate-limit hits), and for a TOTP code marked used,
    /// whose loss in a crash the store's recovery mark covers (see
    /// `Store::recovered_at`). They become durable with the next durable
    /// commit, the store's close, or at the latest [`FLUSH_EVERY`] later; a
    /// crash before that loses them, which
    /// costs a user a new sign-in at worst. So do the writes of a sign-in's
    /// completion (`store::lazily`). Everything else that removes or
    /// consumes something, and every device, user or token change, stays
    /// durable.
    ///
    /// They go through the committer all the same: writes issued together
    /// (a completed sign-in's) share one transaction and one commit.
    async fn write_lazy<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnMut(&WriteTransaction) -> StoreResult<T> + Send + 'static,
    {
        self.committer.write(false, f).await
    }

    /// Runs `f` in a read transaction (a consistent snapshot) on the calling
    /// task: for reads of a few records by key, which take microseconds from
    /// redb's cache, less than a round trip through the blocking pool (a
    /// third of the CPU of a bearer-authenticated read). Reads whose length
    /// grows with the data use [`Self::scan`].
    async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        F: FnOnce(&ReadTransaction) -> StoreResult<T>,
    {
        f(&self.db.begin_read()?)
    }

    /// Like [`Self::read`], on the blocking pool: for listings and searches.
    async fn scan<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&ReadTransaction) -> StoreResult<T> + Send + 'static,
    {
        let db = self.db.clone();
        blocking(move || f(&db.begin_read()?)).await
    }
}

impl Drop for EmbeddedStore {
    fn drop(&mut self) {
        // The committer's queue first: the closed mark is the last write.
        self.committer.close();
        if self.marked_open
            && let Err(err) = commit::transact(&self.db, Durability::Immediate, mark_closed)
        {
            tracing::warn!(
                error = %err,
                "cannot mark the embedded store closed: its next open will take this stop for a crash"
            );
        }
    }
}

/// The user's devices, oldest registration first, read in `txn`.
fn devices_of(txn: &ReadTransaction, uid: &str) -> StoreResult<Vec<Device>> {
    let ids = members(&txn.open_table(USER_DEVICES)?, uid)?;
    let devices = txn.open_table(DEVICES)?;
    let mut out: Vec<Device> = Vec::with_capacity(ids.len());
    for id in ids {
        // A dangling index entry cannot authenticate, so it is not
        // listed either; it can only come from outside this code.
        match get_json::<Device, _>(&devices, &id)? {
            Some(device) if device.uid == uid => out.push(device),
            _ => tracing::warn!(uid, id, "device index names a missing device"),
        }
    }
    sort_devices(&mut out);
    Ok(out)
}

/// [`Store::bearer_subject`] in `txn`; `revoked_key` is the jti's ephemeral key.
fn bearer_subject_in(
    txn: &ReadTransaction,
    uid: &str,
    revoked_key: &str,
) -> StoreResult<BearerSubject> {
    Ok(BearerSubject {
        token_revoked: ephemeral_get(&txn.open_table(EPHEMERAL)?, revoked_key)?.is_some(),
        user: get_json(&txn.open_table(USERS)?, uid)?,
    })
}

async fn blocking<T, F>(f: F) -> StoreResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> StoreResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|err| StoreError::Unavailable(format!("embedded store task failed: {err}")))?
}

async fn purge_periodically(store: commit::Exclusive) {
    let mut ticks = tokio::time::interval(PURGE_INTERVAL);
    ticks.tick().await;
    loop {
        ticks.tick().await;
        let store = store.clone();
        let result = match blocking(move || Ok(store.transact(purge))).await {
            Ok(Some(purged)) => purged,
            // The store is closed.
            Ok(None) => return,
            Err(err) => Err(err),
        };
        match result {
            Ok(purged) if purged > 0 => tracing::debug!(purged, "purged expired records"),
            Ok(_) => {}
            Err(err) => tracing::warn!(error = %err, "purging expired records failed"),
        }
    }
}

/// What a rotation found; the transaction commits in every case so that a
/// detected reuse keeps its family revocation.
enum Rotation {
    Rotated(RefreshToken),
    Reused(String),
}

#[async_trait]
impl Store for EmbeddedStore {
    fn kind(&self) -> &'static str {
        "embedded"
    }

    fn recovered_at(&self) -> Option<OffsetDateTime> {
        self.recovered_at
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|txn| {
            txn.open_table(KEY_MATERIAL)?;
            Ok(())
        })
        .await
    }

    // ----- users -----

    async fn create_user(&self, user: &User) -> StoreResult<()> {
        check_user(user)?;
        let user = user.clone();
        self.write(move |txn| {
            let mut users = txn.open_table(USERS)?;
            if users.get(user.uid.as_str())?.is_some() {
                return Err(StoreError::AlreadyExists { what: "user" });
            }
            let mut emails = txn.open_table(USER_EMAILS)?;
            let email = email_key(&user.email);
            if emails.get(email.as_str())?.is_some() {
                return Err(StoreError::AlreadyExists { what: "user email" });
            }
            put_json(&mut users, &user.uid, &user)?;
            emails.insert(email.as_str(), user.uid.as_str())?;
            set_search_terms(txn, &user, true)
        })
        .await
    }

    async fn update_user(&self, user: &User) -> StoreResult<()> {
        check_user(user)?;
        let user = user.clone();
        self.write(move |txn| {
            let mut users = txn.open_table(USERS)?;
            let Some(old) = get_json::<User, _>(&users, &user.uid)? else {
                return Err(StoreError::NotFound { what: "user" });
            };
            let mut emails = txn.open_table(USER_EMAILS)?;
            let email = email_key(&user.email);
            if let Some(owner) = emails.get(email.as_str())?
                && owner.value() != user.uid
            {
                return Err(StoreError::AlreadyExists { what: "user email" });
            }
            emails.remove(email_key(&old.email).as_str())?;
            emails.insert(email.as_str(), user.uid.as_str())?;
            set_search_terms(txn, &old, false)?;
            set_search_terms(txn, &user, true)?;
            put_json(&mut users, &user.uid, &user)
        })
        .await
    }

    async fn get_user(&self, uid: &str) -> StoreResult<Option<User>> {
        let uid = uid.to_owned();
        self.read(move |txn| get_json(&txn.open_table(USERS)?, &uid))
            .await
    }

    async fn get_user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let email = email_key(email);
        self.read(move |txn| {
            let Some(uid) = txn.open_table(USER_EMAILS)?.get(email.as_str())? else {
                return Ok(None);
            };
            get_json(&txn.open_table(USERS)?, uid.value())
        })
        .await
    }

    async fn list_users(&self) -> StoreResult<Vec<User>> {
        self.scan(|txn| {
            let mut out = Vec::new();
            for entry in txn.open_table(USERS)?.iter()? {
                out.push(decode(entry?.1.value())?);
            }
            Ok(out)
        })
        .await
    }

    async fn search_users(&self, prefix: &str, limit: usize) -> StoreResult<Vec<User>> {
        let prefix = prefix.trim().to_lowercase();
        self.scan(move |txn| {
            let search = txn.open_table(USER_SEARCH)?;
            let mut hits = SearchHits::new(limit);
            for entry in search.range::<&str>(prefix.as_str()..)? {
                let (key, _) = entry?;
                let key = key.value();
                if !key.starts_with(prefix.as_str()) || !hits.add(key) {
                    break;
                }
            }
            let users = txn.open_table(USERS)?;
            let mut out = Vec::new();
            for uid in hits.into_uids() {
                if let Some(user) = get_json(&users, &uid)? {
                    out.push(user);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn set_user_disabled(&self, uid: &str, disabled: bool) -> StoreResult<()> {
        let uid = uid.to_owned();
        self.write(move |txn| {
            let mut users = txn.open_table(USERS)?;
            let Some(mut user) = get_json::<User, _>(&users, &uid)? else {
                return Err(StoreError::NotFound { what: "user" });
            };
            user.disabled = disabled;
            put_json(&mut users, &uid, &user)
        })
        .await
    }

    // ----- clients -----

    async fn create_client(&self, client: &Client) -> StoreResult<()> {
        check_key("client id", &client.client_id)?;
        let client = client.clone();
        self.write(move |txn| {
            let mut clients = txn.open_table(CLIENTS)?;
            if clients.get(client.client_id.as_str())?.is_some() {
                return Err(StoreError::AlreadyExists { what: "client" });
            }
            put_json(&mut clients, &client.client_id, &client)
        })
        .await
    }

    async fn get_client(&self, client_id: &str) -> StoreResult<Option<Client>> {
        let client_id = client_id.to_owned();
        self.read(move |txn| get_json(&txn.open_table(CLIENTS)?, &client_id))
            .await
    }

    async fn list_clients(&self) -> StoreResult<Vec<Client>> {
        self.scan(|txn| {
            let mut out = Vec::new();
            for entry in txn.open_table(CLIENTS)?.iter()? {
                out.push(decode(entry?.1.value())?);
            }
            Ok(out)
        })
        .await
    }

    // ----- devices -----

    async fn create_device(&self, device: &Device) -> StoreResult<()> {
        check_key("uid", &device.uid)?;
        check_key("device id", &device.id)?;
        let device = device.clone();
        self.write(move |txn| insert_device(txn, &device)).await
    }

    async fn list_devices(&self, uid: &str) -> StoreResult<Vec<Device>> {
        let uid = uid.to_owned();
        self.read(move |txn| devices_of(txn, &uid)).await
    }

    async fn get_device(&self, uid: &str, id: &str) -> StoreResult<Option<Device>> {
        let (uid, id) = (uid.to_owned(), id.to_owned());
        self.read(move |txn| {
            let device: Option<Device> = get_json(&txn.open_table(DEVICES)?, &id)?;
            Ok(device.filter(|d| d.uid == uid))
        })
        .await
    }

    async fn rename_device(&self, uid: &str, id: &str, name: &str) -> StoreResult<Device> {
        let (uid, id, name) = (uid.to_owned(), id.to_owned(), name.to_owned());
        self.write(move |txn| update_device(txn, &uid, &id, |device| device.name.clone_from(&name)))
            .await
    }

    async fn touch_device(&self, uid: &str, id: &str, at: OffsetDateTime) -> StoreResult<()> {
        let (uid, id) = (uid.to_owned(), id.to_owned());
        self.write(move |txn| {
            update_device(txn, &uid, &id, |device| device.last_used_at = Some(at)).map(drop)
        })
        .await
    }

    async fn delete_device(&self, uid: &str, id: &str, audit: &NewAuditEvent) -> StoreResult<bool> {
        check_audit(uid, audit)?;
        let (uid, id, audit) = (uid.to_owned(), id.to_owned(), audit.clone());
        self.write(move |txn| {
            let deleted = remove_device(txn, &uid, &id)?;
            if deleted {
                append_audit_in(txn, &audit)?;
            }
            Ok(deleted)
        })
        .await
    }

    async fn reset_devices(
        &self,
        uid: &str,
        at: OffsetDateTime,
        audit: &NewAuditEvent,
    ) -> StoreResult<DevicesReset> {
        check_audit(uid, audit)?;
        let (uid, audit) = (uid.to_owned(), audit.clone());
        self.write(move |txn| {
            let mut users = txn.open_table(USERS)?;
            let Some(mut user) = get_json::<User, _>(&users, &uid)? else {
                return Err(StoreError::NotFound { what: "user" });
            };
            user.devices_reset_at = Some(at);
            put_json(&mut users, &uid, &user)?;
            drop(users);
            let ids = members(&txn.open_table(USER_DEVICES)?, &uid)?;
            let mut devices = 0;
            for id in ids {
                if remove_device(txn, &uid, &id)? {
                    devices += 1;
                }
            }
            replace_recovery_codes_in(txn, &uid, &[])?;
            let browsers = remove_all_browsers(txn, &uid)?;
            append_audit_in(
                txn,
                &audit
                    .with_detail(REMOVED_COUNT, devices)
                    .with_detail(REMOVED_BROWSERS, browsers),
            )?;
            Ok(DevicesReset { devices, browsers })
        })
        .await
    }

    async fn delete_device_unless_last(
        &self,
        uid: &str,
        id: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<DeviceDeletion> {
        check_audit(uid, audit)?;
        let (uid, id, audit) = (uid.to_owned(), id.to_owned(), audit.clone());
        self.write(move |txn| {
            let device: Option<Device> = get_json(&txn.open_table(DEVICES)?, &id)?;
            if device.is_none_or(|d| d.uid != uid) {
                return Ok(DeviceDeletion::NotFound);
            }
            if members(&txn.open_table(USER_DEVICES)?, &uid)?.len() <= 1 {
                return Ok(DeviceDeletion::LastDevice);
            }
            remove_device(txn, &uid, &id)?;
            append_audit_in(txn, &audit)?;
            Ok(DeviceDeletion::Deleted)
        })
        .await
    }

    // ----- pending enrolments -----

    async fn put_pending_enrollment(&self, pending: &PendingEnrollment) -> StoreResult<()> {
        check_key("uid", &pending.uid)?;
        check_key("enrollment id", &pending.id)?;
        ttl_until("enrollment", pending.expires_at)?;
        let pending = pending.clone();
        self.write(move |txn| {
            let mut table = txn.open_table(PENDING)?;
            let existing: Option<PendingEnrollment> = get_json(&table, &pending.id)?;
            if existing.is_some_and(|p| !is_expired(p.expires_at))
                || txn.open_table(DEVICES)?.get(pending.id.as_str())?.is_some()
            {
                return Err(StoreError::AlreadyExists { what: "enrollment" });
            }
            put_json(&mut table, &pending.id, &pending)
        })
        .await
    }

    async fn get_pending_enrollment(
        &self,
        uid: &str,
        id: &str,
    ) -> StoreResult<Option<PendingEnrollment>> {
        let (uid, id) = (uid.to_owned(), id.to_owned());
        self.read(move |txn| {
            let pending: Option<PendingEnrollment> = get_json(&txn.open_table(PENDING)?, &id)?;
            Ok(pending.filter(|p| p.uid == uid && !is_expired(p.expires_at)))
        })
        .await
    }

    async fn delete_pending_enrollment(&self, uid: &str, id: &str) -> StoreResult<bool> {
        let (uid, id) = (uid.to_owned(), id.to_owned());
        self.write(move |txn| {
            let mut table = txn.open_table(PENDING)?;
            match get_json::<PendingEnrollment, _>(&table, &id)? {
                Some(p) if p.uid == uid => {
                    table.remove(id.as_str())?;
                    Ok(!is_expired(p.expires_at))
                }
                _ => Ok(false),
            }
        })
        .await
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
        if let Some(codes) = first_device_codes {
            check_recovery_hashes(codes.hashes)?;
            check_audit(uid, codes.audit)?;
        }
        let (uid, id, audit) = (uid.to_owned(), id.to_owned(), audit.clone());
        let codes = first_device_codes.map(|codes| (codes.hashes.to_vec(), codes.audit.clone()));
        self.write(move |txn| {
            let mut table = txn.open_table(PENDING)?;
            let reset = get_json::<User, _>(&txn.open_table(USERS)?, &uid)?
                .and_then(|u| u.devices_reset_at);
            let Some(device) = get_json::<PendingEnrollment, _>(&table, &id)?
                .and_then(|pending| pending.confirmed_by(&uid, at, reset))
            else {
                return Err(StoreError::NotFound { what: "enrollment" });
            };
            let devices = members(&txn.open_table(USER_DEVICES)?, &uid)?.len();
            if devices >= max_devices as usize {
                return Err(StoreError::TooManyDevices { max: max_devices });
            }
            table.remove(id.as_str())?;
            drop(table);
            let first_device = devices == 0;
            insert_device(txn, &device)?;
            append_audit_in(txn, &confirmation_event(&audit, &device))?;
            if let (true, Some((hashes, codes_audit))) = (first_device, &codes) {
                replace_recovery_codes_in(txn, &uid, hashes)?;
                append_audit_in(txn, codes_audit)?;
            }
            Ok(ConfirmedEnrollment {
                device,
                first_device,
            })
        })
        .await
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
        let (uid, hashes, audit) = (uid.to_owned(), hashes.to_vec(), audit.clone());
        self.write(move |txn| {
            replace_recovery_codes_in(txn, &uid, &hashes)?;
            append_audit_in(txn, &audit).map(drop)
        })
        .await
    }

    async fn consume_recovery_code(&self, uid: &str, hash: &str) -> StoreResult<bool> {
        let key = pair(uid, hash);
        self.write(move |txn| Ok(txn.open_table(RECOVERY)?.remove(key.as_str())?.is_some()))
            .await
    }

    async fn count_recovery_codes(&self, uid: &str) -> StoreResult<u64> {
        let uid = uid.to_owned();
        self.read(move |txn| Ok(members(&txn.open_table(RECOVERY)?, &uid)?.len() as u64))
            .await
    }

    // ----- trusted browsers -----

    async fn create_trusted_browser(&self, browser: &TrustedBrowser) -> StoreResult<()> {
        check_key("uid", &browser.uid)?;
        check_key("browser id", &browser.id)?;
        check_key("token hash", &browser.token_hash)?;
        ttl_until("trusted browser", browser.expires_at)?;
        let browser = browser.clone();
        self.write(move |txn| {
            let mut browsers = txn.open_table(BROWSERS)?;
            let mut tokens = txn.open_table(BROWSER_TOKENS)?;
            if browsers.get(browser.id.as_str())?.is_some()
                || tokens.get(browser.token_hash.as_str())?.is_some()
            {
                return Err(StoreError::AlreadyExists {
                    what: "trusted browser",
                });
            }
            put_json(&mut browsers, &browser.id, &browser)?;
            tokens.insert(browser.token_hash.as_str(), browser.id.as_str())?;
            txn.open_table(USER_BROWSERS)?
                .insert(pair(&browser.uid, &browser.id).as_str(), ())?;
            Ok(())
        })
        .await
    }

    async fn list_trusted_browsers(&self, uid: &str) -> StoreResult<Vec<TrustedBrowser>> {
        let uid = uid.to_owned();
        self.read(move |txn| {
            let ids = members(&txn.open_table(USER_BROWSERS)?, &uid)?;
            let browsers = txn.open_table(BROWSERS)?;
            let mut out: Vec<TrustedBrowser> = Vec::new();
            for id in ids {
                if let Some(browser) = get_json::<TrustedBrowser, _>(&browsers, &id)?
                    && browser.uid == uid
                    && !is_expired(browser.expires_at)
                {
                    out.push(browser);
                }
            }
            out.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
            Ok(out)
        })
        .await
    }

    async fn find_trusted_browser(&self, token_hash: &str) -> StoreResult<Option<TrustedBrowser>> {
        let token_hash = token_hash.to_owned();
        self.read(move |txn| {
            let Some(id) = txn.open_table(BROWSER_TOKENS)?.get(token_hash.as_str())? else {
                return Ok(None);
            };
            let browser: Option<TrustedBrowser> = get_json(&txn.open_table(BROWSERS)?, id.value())?;
            Ok(browser.filter(|b| b.token_hash == token_hash && !is_expired(b.expires_at)))
        })
        .await
    }

    async fn touch_trusted_browser(
        &self,
        uid: &str,
        id: &str,
        at: OffsetDateTime,
    ) -> StoreResult<()> {
        let (uid, id) = (uid.to_owned(), id.to_owned());
        self.write(move |txn| {
            let mut browsers = txn.open_table(BROWSERS)?;
            match get_json::<TrustedBrowser, _>(&browsers, &id)? {
                Some(mut browser) if browser.uid == uid && !is_expired(browser.expires_at) => {
                    browser.last_used_at = Some(at);
                    put_json(&mut browsers, &id, &browser)
                }
                _ => Err(StoreError::NotFound {
                    what: "trusted browser",
                }),
            }
        })
        .await
    }

    async fn revoke_trusted_browser(
        &self,
        uid: &str,
        id: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<bool> {
        check_audit(uid, audit)?;
        let (uid, id, audit) = (uid.to_owned(), id.to_owned(), audit.clone());
        self.write(move |txn| {
            let browser: Option<TrustedBrowser> = get_json(&txn.open_table(BROWSERS)?, &id)?;
            match browser {
                Some(browser) if browser.uid == uid => {
                    // An expired browser's records go too, but it was not
                    // trusted any more: nothing to revoke, nothing to record.
                    remove_browser(txn, &browser)?;
                    let revoked = !is_expired(browser.expires_at);
                    if revoked {
                        append_audit_in(txn, &audit)?;
                    }
                    Ok(revoked)
                }
                _ => Ok(false),
            }
        })
        .await
    }

    async fn revoke_all_trusted_browsers(
        &self,
        uid: &str,
        audit: &NewAuditEvent,
    ) -> StoreResult<u64> {
        check_audit(uid, audit)?;
        let (uid, audit) = (uid.to_owned(), audit.clone());
        self.write(move |txn| {
            let revoked = remove_all_browsers(txn, &uid)?;
            append_audit_in(txn, &audit.with_detail(REMOVED_COUNT, revoked))?;
            Ok(revoked)
        })
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
        let key = ephemeral_key("code", code_hash);
        let value = pack(expiry_after(ttl), &encode(grant)?);
        self.write_lazy(move |txn| {
            let mut table = txn.open_table(EPHEMERAL)?;
            if ephemeral_get(&table, &key)?.is_some() {
                return Err(StoreError::AlreadyExists {
                    what: "authorization code",
                });
            }
            table.insert(key.as_str(), value.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn get_auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeGrant>> {
        let key = ephemeral_key("code", code_hash);
        self.read(move |txn| {
            ephemeral_get(&txn.open_table(EPHEMERAL)?, &key)?
                .map(|(_, payload)| decode(&payload))
                .transpose()
        })
        .await
    }

    async fn take_auth_code(&self, code_hash: &str) -> StoreResult<Option<AuthCodeGrant>> {
        let key = ephemeral_key("code", code_hash);
        self.write(move |txn| {
            let mut table = txn.open_table(EPHEMERAL)?;
            let found = ephemeral_get(&table, &key)?;
            table.remove(key.as_str())?;
            found.map(|(_, payload)| decode(&payload)).transpose()
        })
        .await
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
        ttl_until("refresh token", refresh.expires_at)?;
        let code = ephemeral_key("code", code_hash);
        let redeemed = ephemeral_key("redeemed", code_hash);
        let remembered = pack(remember_until, refresh.family_id.as_bytes());
        let (hash, token) = (refresh_hash.to_owned(), refresh.clone());
        // One durable commit for the code consumed and the token issued (a
        // lazy take followed by a durable put cost two).
        self.write(move |txn| {
            let mut ephemeral = txn.open_table(EPHEMERAL)?;
            if ephemeral_get(&ephemeral, &code)?.is_none() {
                return Ok(false);
            }
            ephemeral.remove(code.as_str())?;
            if !is_expired(remember_until) {
                ephemeral.insert(redeemed.as_str(), remembered.as_slice())?;
            }
            drop(ephemeral);
            insert_refresh(txn, &hash, &token)?;
            Ok(true)
        })
        .await
    }

    // ----- refresh tokens -----

    async fn put_refresh_token(&self, token_hash: &str, token: &RefreshToken) -> StoreResult<()> {
        check_key("token hash", token_hash)?;
        check_key("family id", &token.family_id)?;
        ttl_until("refresh token", token.expires_at)?;
        let (hash, token) = (token_hash.to_owned(), token.clone());
        self.write(move |txn| insert_refresh(txn, &hash, &token))
            .await
    }

    async fn get_refresh_token(&self, token_hash: &str) -> StoreResult<Option<RefreshToken>> {
        let hash = token_hash.to_owned();
        self.read(move |txn| {
            let token: Option<RefreshToken> = get_json(&txn.open_table(REFRESH)?, &hash)?;
            Ok(token.filter(|t| !is_expired(t.expires_at)))
        })
        .await
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        new: &RefreshToken,
    ) -> StoreResult<RefreshToken> {
        check_key("token hash", new_hash)?;
        ttl_until("refresh token", new.expires_at)?;
        let (old_hash, new_hash, new) = (old_hash.to_owned(), new_hash.to_owned(), new.clone());
        let rotation = self
            .write(move |txn| {
                let mut tokens = txn.open_table(REFRESH)?;
                let old = match get_json::<RefreshToken, _>(&tokens, &old_hash)? {
                    Some(old) if !is_expired(old.expires_at) => old,
                    _ => {
                        return Err(StoreError::NotFound {
                            what: "refresh token",
                        });
                    }
                };
                if old.used {
                    drop(tokens);
                    remove_family(txn, &old.family_id)?;
                    return Ok(Rotation::Reused(old.family_id));
                }
                if new.family_id != old.family_id {
                    return Err(StoreError::Conflict(
                        "the new refresh token is not in the old one's family".into(),
                    ));
                }
                let mut used = old.clone();
                used.used = true;
                put_json(&mut tokens, &old_hash, &used)?;
                drop(tokens);
                insert_refresh(txn, &new_hash, &new)?;
                Ok(Rotation::Rotated(old))
            })
            .await?;
        match rotation {
            Rotation::Rotated(old) => Ok(old),
            Rotation::Reused(family_id) => Err(StoreError::RefreshReuse { family_id }),
        }
    }

    async fn revoke_refresh_token(&self, token_hash: &str) -> StoreResult<bool> {
        let hash = token_hash.to_owned();
        self.write(move |txn| remove_refresh(txn, &hash)).await
    }

    async fn revoke_refresh_family(&self, family_id: &str) -> StoreResult<u64> {
        let family_id = family_id.to_owned();
        self.write(move |txn| remove_family(txn, &family_id)).await
    }

    async fn redeemed_code_family(&self, code_hash: &str) -> StoreResult<Option<String>> {
        let key = ephemeral_key("redeemed", code_hash);
        self.read(move |txn| {
            ephemeral_get(&txn.open_table(EPHEMERAL)?, &key)?
                .map(|(_, family)| String::from_utf8(family).map_err(StoreError::corrupt))
                .transpose()
        })
        .await
    }

    // ----- access token revocation -----

    async fn revoke_access_token(&self, jti: &str, expires_at: OffsetDateTime) -> StoreResult<()> {
        check_key("jti", jti)?;
        if is_expired(expires_at) {
            return Ok(());
        }
        let key = ephemeral_key("revoked-at", jti);
        let value = pack(expires_at, &[]);
        self.write(move |txn| {
            txn.open_table(EPHEMERAL)?
                .insert(key.as_str(), value.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn bearer_subject(&self, uid: &str, jti: &str) -> StoreResult<BearerSubject> {
        let uid = uid.to_owned();
        let key = ephemeral_key("revoked-at", jti);
        self.read(move |txn| bearer_subject_in(txn, &uid, &key))
            .await
    }

    async fn bearer_subject_and_devices(
        &self,
        uid: &str,
        jti: &str,
    ) -> StoreResult<(BearerSubject, Vec<Device>)> {
        let uid = uid.to_owned();
        let key = ephemeral_key("revoked-at", jti);
        self.read(move |txn| Ok((bearer_subject_in(txn, &uid, &key)?, devices_of(txn, &uid)?)))
            .await
    }

    // ----- sessions and transactions -----

    async fn put_session(&self, id_hash: &str, session: &BrowserSession) -> StoreResult<()> {
        check_key("session id hash", id_hash)?;
        ttl_until("session", session.expires_at)?;
        let value = pack(session.expires_at, &encode(session)?);
        self.put_ephemeral(ephemeral_key("session", id_hash), value)
            .await
    }

    async fn get_session(&self, id_hash: &str) -> StoreResult<Option<BrowserSession>> {
        self.get_ephemeral(ephemeral_key("session", id_hash)).await
    }

    async fn delete_session(&self, id_hash: &str) -> StoreResult<bool> {
        self.delete_ephemeral(ephemeral_key("session", id_hash))
            .await
    }

    async fn put_transaction(&self, id: &str, txn: &SignInTransaction) -> StoreResult<()> {
        check_key("transaction id", id)?;
        ttl_until("sign-in transaction", txn.expires_at)?;
        let value = pack(txn.expires_at, &encode(txn)?);
        self.put_ephemeral(ephemeral_key("txn", id), value).await
    }

    async fn get_transaction(&self, id: &str) -> StoreResult<Option<SignInTransaction>> {
        self.get_ephemeral(ephemeral_key("txn", id)).await
    }

    async fn delete_transaction(&self, id: &str) -> StoreResult<bool> {
        self.delete_ephemeral(ephemeral_key("txn", id)).await
    }

    // ----- TOTP replay protection -----

    async fn mark_code_used(&self, code_id: &str, ttl: Duration) -> StoreResult<bool> {
        check_key("code id", code_id)?;
        check_ttl("used code marker", ttl)?;
        let key = ephemeral_key("used", code_id);
        self.write_lazy(move |txn| {
            let mut table = txn.open_table(EPHEMERAL)?;
            if ephemeral_get(&table, &key)?.is_some() {
                return Ok(false);
            }
            table.insert(key.as_str(), pack(expiry_after(ttl), &[]).as_slice())?;
            Ok(true)
        })
        .await
    }

    async fn unmark_code_used(&self, code_id: &str) -> StoreResult<bool> {
        check_key("code id", code_id)?;
        let key = ephemeral_key("used", code_id);
        // Lazily: a crash that forgets the unmarking leaves a code refused
        // that was not used, never the reverse.
        self.write_lazy(move |txn| remove_ephemeral(txn, &key))
            .await
    }

    // ----- rate limiting -----

    async fn rate_limit_hits(&self, keys: &[&str], window: Duration) -> StoreResult<Vec<u64>> {
        check_ttl("rate limit window", window)?;
        let keys = keys
            .iter()
            .map(|key| {
                check_key("rate limit key", key)?;
                Ok(ephemeral_key("rate", key))
            })
            .collect::<StoreResult<Vec<String>>>()?;
        self.write_lazy(move |txn| {
            let mut table = txn.open_table(EPHEMERAL)?;
            let mut counts = Vec::with_capacity(keys.len());
            for key in &keys {
                let (expiry, count) = match ephemeral_get(&table, key)? {
                    Some((expiry, payload)) => (expiry, decode_count(&payload)? + 1),
                    None => (unix_ms(expiry_after(window)), 1),
                };
                table.insert(key.as_str(), encode_count(expiry, count).as_slice())?;
                counts.push(count);
            }
            Ok(counts)
        })
        .await
    }

    async fn rate_limit_release(&self, keys: &[&str]) -> StoreResult<()> {
        let keys: Vec<String> = keys.iter().map(|key| ephemeral_key("rate", key)).collect();
        self.write_lazy(move |txn| {
            let mut table = txn.open_table(EPHEMERAL)?;
            for key in &keys {
                let Some((expiry, payload)) = ephemeral_get(&table, key)? else {
                    continue;
                };
                match decode_count(&payload)? {
                    0 | 1 => {
                        table.remove(key.as_str())?;
                    }
                    count => {
                        table.insert(key.as_str(), encode_count(expiry, count - 1).as_slice())?;
                    }
                }
            }
            Ok(())
        })
        .await
    }

    async fn rate_limit_count(&self, key: &str) -> StoreResult<u64> {
        let key = ephemeral_key("rate", key);
        self.read(
            move |txn| match ephemeral_get(&txn.open_table(EPHEMERAL)?, &key)? {
                Some((_, payload)) => decode_count(&payload),
                None => Ok(0),
            },
        )
        .await
    }

    async fn rate_limit_reset(&self, key: &str) -> StoreResult<()> {
        self.delete_ephemeral(ephemeral_key("rate", key))
            .await
            .map(drop)
    }

    async fn rate_limit_ttl(&self, key: &str) -> StoreResult<Option<Duration>> {
        let key = ephemeral_key("rate", key);
        self.read(move |txn| {
            Ok(
                ephemeral_get(&txn.open_table(EPHEMERAL)?, &key)?.map(|(expiry, _)| {
                    Duration::from_millis(u64::try_from(expiry - unix_ms(now())).unwrap_or(0))
                }),
            )
        })
        .await
    }

    // ----- audit -----

    async fn append_audit(&self, event: &NewAuditEvent) -> StoreResult<AuditEvent> {
        check_key("audit subject", &event.subject)?;
        let event = event.clone();
        self.write(move |txn| append_audit_in(txn, &event)).await
    }

    async fn list_audit(
        &self,
        subject: &str,
        before: Option<u64>,
        limit: usize,
    ) -> StoreResult<Vec<AuditEvent>> {
        let start = format!("{subject}\0");
        let end = match before {
            Some(before) => audit_subject_key(subject, before),
            None => format!("{subject}\u{1}"),
        };
        self.scan(move |txn| {
            let index = txn.open_table(AUDIT_BY_SUBJECT)?;
            let audit = txn.open_table(AUDIT)?;
            let mut out = Vec::new();
            for entry in index
                .range::<&str>(start.as_str()..end.as_str())?
                .rev()
                .take(limit)
            {
                let (key, _) = entry?;
                let id: u64 = key.value()[start.len()..]
                    .parse()
                    .map_err(StoreError::corrupt)?;
                let Some(value) = audit.get(id)? else {
                    return Err(StoreError::Corrupt(format!("audit event {id} missing")));
                };
                out.push(decode(value.value())?);
            }
            Ok(out)
        })
        .await
    }

    // ----- key material -----

    async fn get_key_material(&self, name: &str) -> StoreResult<Option<Vec<u8>>> {
        let name = name.to_owned();
        self.read(move |txn| {
            Ok(txn
                .open_table(KEY_MATERIAL)?
                .get(name.as_str())?
                .map(|v| v.value().to_vec()))
        })
        .await
    }

    async fn put_key_material(&self, name: &str, value: &[u8]) -> StoreResult<()> {
        check_key("key name", name)?;
        let (name, value) = (name.to_owned(), value.to_vec());
        self.write(move |txn| {
            txn.open_table(KEY_MATERIAL)?
                .insert(name.as_str(), value.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn put_key_material_if_absent(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>> {
        check_key("key name", name)?;
        let (name, value) = (name.to_owned(), value.to_vec());
        self.write(move |txn| {
            let mut table = txn.open_table(KEY_MATERIAL)?;
            if let Some(existing) = table.get(name.as_str())? {
                return Ok(existing.value().to_vec());
            }
            table.insert(name.as_str(), value.as_slice())?;
            Ok(value.clone())
        })
        .await
    }

    async fn delete_key_material(&self, name: &str) -> StoreResult<bool> {
        check_key("key name", name)?;
        let name = name.to_owned();
        self.write(move |txn| {
            let mut table = txn.open_table(KEY_MATERIAL)?;
            let removed = table.remove(name.as_str())?.is_some();
            Ok(removed)
        })
        .await
    }

    async fn purge_expired(&self) -> StoreResult<u64> {
        self.write(purge).await
    }
}

impl EmbeddedStore {
    async fn put_ephemeral(&self, key: String, value: Vec<u8>) -> StoreResult<()> {
        self.write_lazy(move |txn| {
            txn.open_table(EPHEMERAL)?
                .insert(key.as_str(), value.as_slice())?;
            Ok(())
        })
        .await
    }

    async fn get_ephemeral<T>(&self, key: String) -> StoreResult<Option<T>>
    where
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        self.read(move |txn| {
            ephemeral_get(&txn.open_table(EPHEMERAL)?, &key)?
                .map(|(_, payload)| decode(&payload))
                .transpose()
        })
        .await
    }

    /// Whether an unexpired value was removed.
    async fn delete_ephemeral(&self, key: String) -> StoreResult<bool> {
        self.write(move |txn| remove_ephemeral(txn, &key)).await
    }
}

/// Removes `key` from the ephemeral table: whether it held an unexpired
/// value.
fn remove_ephemeral(txn: &WriteTransaction, key: &str) -> StoreResult<bool> {
    let mut table = txn.open_table(EPHEMERAL)?;
    let live = ephemeral_get(&table, key)?.is_some();
    table.remove(key)?;
    Ok(live)
}
