//! The signing keys in the store: loaded at start (the first start creates
//! the key), rotated by `tessera-provider key rotate`, and reloaded by
//! running providers, so that every instance on a store verifies what any
//! of them signed.
//!
//! The store keeps the active key's PKCS#8 PEM under [`SIGNING_KEY`] and the
//! retired key's public point, with when it was retired, under
//! [`RETIRED_SIGNING_KEY`]; both are sealed with the secret key (the name is
//! the seal's context), so that whoever can write to the store without the
//! secret key cannot plant a key that verifies their own tokens.
//!
//! A rotation writes the retired key first, then the new active key: stopped
//! in between, the store holds the old key as both, which loads as "no
//! rotation happened".

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::Config;
use crate::crypto::{SecretKey, b64url, b64url_decode};
use crate::jwt::{PublicKey, RetiredKey, SigningKeys};
use crate::store::{RETIRED_SIGNING_KEY, SIGNING_KEY, Store, StoreError};

/// How often a running provider reads the keys again: within this time of a
/// rotation every instance signs with the new key. (Verifying does not
/// wait: a token naming a key this provider does not hold makes it read the
/// keys at once, see [`LiveKeys::reload_soon`].)
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(60);

/// The least time between two reads of the keys prompted by tokens naming
/// an unknown key, so that a flood of forged key ids reads the store about
/// once a second, not once per request.
const PROMPTED_RELOAD_GAP: Duration = Duration::from_secs(1);

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the stored signing key cannot be decrypted: the secret key differs from the one it was created with"
    )]
    Sealed,
    #[error(
        "the retired signing key {kid} may still verify tokens until {until}: rotating now would drop it and refuse them; \
         rotate after that time, or now with --discard-old-key if a key was exposed"
    )]
    RetiredTooRecently { kid: String, until: String },
}

impl KeyringError {
    /// A stable machine-readable code (the store's own for its errors).
    pub fn code(&self) -> &'static str {
        match self {
            KeyringError::Store(e) => e.code(),
            KeyringError::Sealed => "sealed_with_another_secret",
            KeyringError::RetiredTooRecently { .. } => "retired_key_still_in_use",
        }
    }
}

/// What the store holds of the retired key.
#[derive(Serialize, Deserialize)]
struct RetiredRecord {
    /// Uncompressed SEC1 point, base64url.
    point: String,
    #[serde(with = "time::serde::rfc3339")]
    retired_at: OffsetDateTime,
}

/// The sealed records as read, to tell whether they changed since.
#[derive(PartialEq, Eq)]
struct Stored {
    active: Vec<u8>,
    retired: Option<Vec<u8>>,
}

/// Reads the sealed records (both in one round trip on Redis), creating
/// the active key on a store that has none (concurrent first starts agree
/// on one key).
async fn read_sealed(store: &dyn Store, secret: &SecretKey) -> Result<Stored, KeyringError> {
    let (active, retired) = tokio::join!(
        store.get_key_material(SIGNING_KEY),
        store.get_key_material(RETIRED_SIGNING_KEY)
    );
    let active = match active? {
        Some(sealed) => sealed,
        None => {
            let fresh = SigningKeys::generate();
            store
                .put_key_material_if_absent(SIGNING_KEY, &seal_active(&fresh, secret))
                .await?
        }
    };
    Ok(Stored {
        active,
        retired: retired?,
    })
}

impl Stored {
    fn open(&self, secret: &SecretKey) -> Result<SigningKeys, KeyringError> {
        let retired = self
            .retired
            .as_deref()
            .map(|r| open_retired(r, secret))
            .transpose()?;
        Ok(open_active(&self.active, secret)?.with_retired(retired))
    }
}

async fn read(
    store: &dyn Store,
    secret: &SecretKey,
) -> Result<(SigningKeys, Stored), KeyringError> {
    let stored = read_sealed(store, secret).await?;
    Ok((stored.open(secret)?, stored))
}

fn seal_active(keys: &SigningKeys, secret: &SecretKey) -> Vec<u8> {
    secret.seal(keys.to_pkcs8_pem().expose_secret().as_bytes(), SIGNING_KEY)
}

fn open_active(sealed: &[u8], secret: &SecretKey) -> Result<SigningKeys, KeyringError> {
    let pem = secret
        .open(sealed, SIGNING_KEY)
        .map_err(|_| KeyringError::Sealed)?;
    let pem = std::str::from_utf8(pem.expose_secret()).map_err(|_| KeyringError::Sealed)?;
    SigningKeys::from_pkcs8_pem(pem).map_err(|_| KeyringError::Sealed)
}

fn seal_retired(retired: &RetiredKey, secret: &SecretKey) -> Vec<u8> {
    let record = RetiredRecord {
        point: b64url(retired.public.sec1()),
        retired_at: retired.retired_at,
    };
    let json = serde_json::to_vec(&record).expect("the retired key's record serialises");
    secret.seal(&json, RETIRED_SIGNING_KEY)
}

fn open_retired(sealed: &[u8], secret: &SecretKey) -> Result<RetiredKey, KeyringError> {
    let json = secret
        .open(sealed, RETIRED_SIGNING_KEY)
        .map_err(|_| KeyringError::Sealed)?;
    let record: RetiredRecord =
        serde_json::from_slice(json.expose_secret()).map_err(|_| KeyringError::Sealed)?;
    let point = b64url_decode(&record.point).ok_or(KeyringError::Sealed)?;
    Ok(RetiredKey {
        public: PublicKey::from_sec1(&point).map_err(|_| KeyringError::Sealed)?,
        retired_at: record.retired_at,
    })
}

/// The longest a token signed by a key can be presented: past this after
/// its retirement, a retired key verifies nothing that is still valid.
pub fn retired_key_use(config: &Config) -> time::Duration {
    let t = &config.tokens;
    time::Duration::seconds(t.access_token_secs.max(t.id_token_secs) as i64)
}

/// `t` in RFC 3339, to the second: for people reading the command line.
pub fn to_the_second(t: OffsetDateTime) -> String {
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The new active key's id.
    pub active: String,
    /// The key that was active, now retired (`None`: discarded).
    pub retired: Option<String>,
    /// The keys this rotation dropped: the retired one, and with
    /// `discard_old` the active one too.
    pub dropped: Vec<String>,
}

/// Replaces the active key by a new one. The active key is retired (it
/// still verifies, and is still published, until the next rotation) unless
/// `discard_old` (a key was exposed: what the old keys signed stops being
/// accepted at once). Refused without `discard_old` while the retired key
/// may still verify unexpired tokens (`keep_retired` after its retirement).
pub async fn rotate(
    store: &dyn Store,
    secret: &SecretKey,
    now: OffsetDateTime,
    keep_retired: time::Duration,
    discard_old: bool,
) -> Result<Rotation, KeyringError> {
    let (old, _) = read(store, secret).await?;
    if !discard_old
        && let Some(retired) = old.retired()
        && now < retired.retired_at + keep_retired
    {
        return Err(KeyringError::RetiredTooRecently {
            kid: retired.public.kid().to_owned(),
            until: to_the_second(retired.retired_at + keep_retired),
        });
    }
    let fresh = SigningKeys::generate();
    let mut dropped: Vec<String> = old
        .retired()
        .map(|r| r.public.kid().to_owned())
        .into_iter()
        .collect();
    let rotation = if discard_old {
        store.delete_key_material(RETIRED_SIGNING_KEY).await?;
        dropped.push(old.kid().to_owned());
        Rotation {
            active: fresh.kid().to_owned(),
            retired: None,
            dropped,
        }
    } else {
        let retired = RetiredKey {
            public: old.public().clone(),
            retired_at: now,
        };
        store
            .put_key_material(RETIRED_SIGNING_KEY, &seal_retired(&retired, secret))
            .await?;
        Rotation {
            active: fresh.kid().to_owned(),
            retired: Some(old.kid().to_owned()),
            dropped,
        }
    };
    store
        .put_key_material(SIGNING_KEY, &seal_active(&fresh, secret))
        .await?;
    Ok(rotation)
}

/// A running provider's keys, read again from the store every
/// [`RELOAD_INTERVAL`] and when a request needs it.
pub struct LiveKeys {
    current: RwLock<Arc<SigningKeys>>,
    /// What the store held at the last read.
    stored: Mutex<Stored>,
    /// When a request last made the keys be read again.
    prompted: Mutex<Option<Instant>>,
    /// One read at a time: a read that started before a rotation must not
    /// finish after one that started later and put the old keys back.
    reading: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for LiveKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("LiveKeys").field(&self.get()).finish()
    }
}

impl LiveKeys {
    /// Reads the keys (creating the first one), as at start.
    pub async fn load(store: &dyn Store, secret: &SecretKey) -> Result<LiveKeys, KeyringError> {
        let (keys, stored) = read(store, secret).await?;
        Ok(LiveKeys {
            current: RwLock::new(Arc::new(keys)),
            stored: Mutex::new(stored),
            prompted: Mutex::new(None),
            reading: tokio::sync::Mutex::new(()),
        })
    }

    /// The keys as last read.
    pub fn get(&self) -> Arc<SigningKeys> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Reads the keys again; answers whether they changed. Unchanged
    /// records (the usual case) are not opened again: a read is two small
    /// lookups.
    pub async fn reload(
        &self,
        store: &dyn Store,
        secret: &SecretKey,
    ) -> Result<bool, KeyringError> {
        let _one_at_a_time = self.reading.lock().await;
        let stored = read_sealed(store, secret).await?;
        if *lock(&self.stored) == stored {
            return Ok(false);
        }
        let keys = stored.open(secret)?;
        *lock(&self.stored) = stored;
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(keys);
        Ok(true)
    }

    /// [`Self::reload`] for a request that needs it, unless another request
    /// did so less than a second ago (then once that read is done). A
    /// failed read keeps the keys as they were.
    pub async fn reload_soon(&self, store: &dyn Store, secret: &SecretKey) -> bool {
        let recent = {
            let mut prompted = lock(&self.prompted);
            let recent = prompted.is_some_and(|at| at.elapsed() < PROMPTED_RELOAD_GAP);
            if !recent {
                *prompted = Some(Instant::now());
            }
            recent
        };
        if recent {
            // A read prompted just before may still be under way (the same
            // new key, presented at once to this instance): wait for it.
            let _finished = self.reading.lock().await;
            return false;
        }
        match self.reload(store, secret).await {
            Ok(changed) => changed,
            Err(e) => {
                tracing::warn!(error = %e, "the signing keys could not be read again");
                false
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Each value is replaced whole: a panic elsewhere cannot leave it half-written.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EmbeddedStore;

    const HOUR: time::Duration = time::Duration::hours(1);

    fn store() -> Arc<dyn Store> {
        Arc::new(EmbeddedStore::in_memory().unwrap())
    }

    #[tokio::test]
    async fn a_rotation_retires_the_active_key_and_the_next_one_drops_it() {
        let (store, secret) = (store(), SecretKey::generate());
        let live = LiveKeys::load(&*store, &secret).await.unwrap();
        let first = live.get();
        let token = first.sign("JWT", &serde_json::json!({"sub": "alice"}));
        let t0 = OffsetDateTime::now_utc();

        let done = rotate(&*store, &secret, t0, HOUR, false).await.unwrap();
        assert_eq!(done.retired.as_deref(), Some(first.kid()));
        assert!(done.dropped.is_empty());
        assert!(live.reload(&*store, &secret).await.unwrap());
        assert!(!live.reload(&*store, &secret).await.unwrap(), "unchanged");
        let second = live.get();
        assert_eq!(second.kid(), done.active);
        assert_ne!(second.kid(), first.kid());
        assert_eq!(second.retired().unwrap().retired_at, t0);
        assert_eq!(second.verify(&token, None).unwrap()["sub"], "alice");

        // Within the retired key's use, another rotation would drop it.
        let early = rotate(&*store, &secret, t0 + HOUR / 2, HOUR, false).await;
        match early {
            Err(KeyringError::RetiredTooRecently { kid, .. }) => assert_eq!(kid, first.kid()),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(
            !live.reload(&*store, &secret).await.unwrap(),
            "nothing changed"
        );

        let later = rotate(&*store, &secret, t0 + HOUR, HOUR, false)
            .await
            .unwrap();
        assert_eq!(later.retired.as_deref(), Some(second.kid()));
        assert_eq!(later.dropped, [first.kid()]);
        live.reload(&*store, &secret).await.unwrap();
        assert_eq!(
            live.get().verify(&token, None).unwrap_err(),
            crate::jwt::JwtError::UnknownKey
        );
    }

    #[tokio::test]
    async fn discarding_drops_every_old_key_at_once() {
        let (store, secret) = (store(), SecretKey::generate());
        let first = LiveKeys::load(&*store, &secret).await.unwrap().get();
        let t0 = OffsetDateTime::now_utc();
        let second = rotate(&*store, &secret, t0, HOUR, false).await.unwrap();
        let token = {
            let keys = LiveKeys::load(&*store, &secret).await.unwrap().get();
            keys.sign("JWT", &serde_json::json!({"sub": "alice"}))
        };
        // Right after a rotation, as when a key was just exposed.
        let done = rotate(&*store, &secret, t0, HOUR, true).await.unwrap();
        assert_eq!(done.retired, None);
        assert_eq!(done.dropped, [first.kid(), second.active.as_str()]);
        let keys = LiveKeys::load(&*store, &secret).await.unwrap().get();
        assert!(keys.retired().is_none());
        assert_eq!(keys.kid(), done.active);
        assert_eq!(
            keys.verify(&token, None).unwrap_err(),
            crate::jwt::JwtError::UnknownKey
        );
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn keys_sealed_with_another_secret_or_planted_in_the_store_are_refused() {
        let (store, secret) = (store(), SecretKey::generate());
        LiveKeys::load(&*store, &secret).await.unwrap();
        let other = SecretKey::generate();
        assert!(matches!(
            LiveKeys::load(&*store, &other).await,
            Err(KeyringError::Sealed)
        ));
        // A retired key written by someone without the secret key.
        let planted = SigningKeys::generate();
        let record = serde_json::json!({
            "point": b64url(planted.public().sec1()),
            "retired_at": "2026-01-01T00:00:00Z",
        });
        store
            .put_key_material(RETIRED_SIGNING_KEY, record.to_string().as_bytes())
            .await
            .unwrap();
        assert!(matches!(
            LiveKeys::load(&*store, &secret).await,
            Err(KeyringError::Sealed)
        ));
        // Sealed under the other name (the active key's record copied over).
        let active = store.get_key_material(SIGNING_KEY).await.unwrap().unwrap();
        store
            .put_key_material(RETIRED_SIGNING_KEY, &active)
            .await
            .unwrap();
        assert!(matches!(
            LiveKeys::load(&*store, &secret).await,
            Err(KeyringError::Sealed)
        ));
    }

    #[test]
    fn errors_have_a_code_and_say_what_to_do() {
        let too_soon = KeyringError::RetiredTooRecently {
            kid: "K1".into(),
            until: "2026-12-06T16:00:00Z".into(),
        };
        assert_eq!(too_soon.code(), "retired_key_still_in_use");
        let said = too_soon.to_string();
        assert!(
            said.contains("K1") && said.contains("2026-12-06T16:00:00Z"),
            "{said}"
        );
        assert!(said.contains("--discard-old-key"), "{said}");
        assert_eq!(KeyringError::Sealed.code(), "sealed_with_another_secret");
        assert!(
            KeyringError::Sealed
                .to_string()
                .contains("secret key differs")
        );
        let down = KeyringError::from(StoreError::Unavailable("redis is down".into()));
        assert_eq!(down.code(), "unavailable");
        assert!(down.to_string().contains("redis is down"));
        assert_eq!(
            to_the_second(
                OffsetDateTime::from_unix_timestamp(1_765_036_800).unwrap()
                    + time::Duration::milliseconds(250)
            ),
            "2025-12-06T16:00:00Z"
        );
    }

    #[tokio::test]
    async fn a_rotation_stopped_between_its_two_writes_reads_as_none() {
        let (store, secret) = (store(), SecretKey::generate());
        let keys = LiveKeys::load(&*store, &secret).await.unwrap().get();
        // The retired record written, the new active key not yet.
        let retired = RetiredKey {
            public: keys.public().clone(),
            retired_at: OffsetDateTime::now_utc(),
        };
        store
            .put_key_material(RETIRED_SIGNING_KEY, &seal_retired(&retired, &secret))
            .await
            .unwrap();
        let again = LiveKeys::load(&*store, &secret).await.unwrap().get();
        assert_eq!(again.kid(), keys.kid());
        assert!(again.retired().is_none());
    }
}
