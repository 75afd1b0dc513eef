//! Where the tokens live between runs: the OS keyring (Secret Service,
//! Keychain, Credential Manager), never a plain file. An in-memory store
//! serves unit tests.

use std::sync::Mutex;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::error::ClientError;

/// The tokens of one signed-in session.
#[derive(Clone)]
pub struct TokenSet {
    pub access_token: SecretString,
    pub refresh_token: Option<SecretString>,
    pub id_token: SecretString,
    /// When the access token expires.
    pub expires_at: OffsetDateTime,
    /// From the verified ID token.
    pub subject: String,
    pub acr: String,
    pub auth_time: Option<OffsetDateTime>,
}

impl std::fmt::Debug for TokenSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenSet")
            .field("access_token", &"[REDACTED]")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[REDACTED]"),
            )
            .field("id_token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .field("subject", &self.subject)
            .field("acr", &self.acr)
            .field("auth_time", &self.auth_time)
            .finish()
    }
}

/// The non-secret part, stored beside the tokens.
#[derive(Serialize, Deserialize)]
struct SessionRecord {
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    subject: String,
    acr: String,
    #[serde(with = "time::serde::rfc3339::option")]
    auth_time: Option<OffsetDateTime>,
    has_refresh_token: bool,
}

/// A place for one account's tokens. Implementations are blocking (keyring
/// APIs are); async callers go through `spawn_blocking`.
pub trait TokenStore: Send + Sync {
    fn load(&self) -> Result<Option<TokenSet>, ClientError>;
    fn save(&self, tokens: &TokenSet) -> Result<(), ClientError>;
    /// Removes everything; succeeds when there is nothing to remove.
    fn clear(&self) -> Result<(), ClientError>;
}

/// Tokens in memory only, for tests and for "do not remember me" uses.
#[derive(Default)]
pub struct MemoryTokenStore {
    tokens: Mutex<Option<TokenSet>>,
}

impl TokenStore for MemoryTokenStore {
    fn load(&self) -> Result<Option<TokenSet>, ClientError> {
        Ok(self.tokens.lock().map_err(|_| poisoned())?.clone())
    }
    fn save(&self, tokens: &TokenSet) -> Result<(), ClientError> {
        *self.tokens.lock().map_err(|_| poisoned())? = Some(tokens.clone());
        Ok(())
    }
    fn clear(&self) -> Result<(), ClientError> {
        *self.tokens.lock().map_err(|_| poisoned())? = None;
        Ok(())
    }
}

fn poisoned() -> ClientError {
    ClientError::Internal("token store lock poisoned".into())
}

/// The keyring service name of every Tessera entry.
pub const KEYRING_SERVICE: &str = "tessera";

/// The OS keyring. Each token is its own entry (Windows limits one
/// credential to 2560 bytes), plus a session record written last and removed
/// first, so that a half-written set is never read as a session.
pub struct KeyringTokenStore {
    account: String,
}

const PARTS: [&str; 3] = ["access_token", "refresh_token", "id_token"];

impl KeyringTokenStore {
    /// One account per issuer and client id.
    pub fn new(issuer: &str, client_id: &str) -> Self {
        KeyringTokenStore {
            account: format!("{issuer} {client_id}"),
        }
    }

    fn entry(&self, part: &str) -> Result<keyring::Entry, ClientError> {
        keyring::Entry::new(KEYRING_SERVICE, &format!("{} {part}", self.account))
            .map_err(keyring_error)
    }

    fn get(&self, part: &str) -> Result<Option<SecretString>, ClientError> {
        match self.entry(part)?.get_password() {
            Ok(v) => Ok(Some(SecretString::from(v))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(e)),
        }
    }

    fn delete(&self, part: &str) -> Result<(), ClientError> {
        match self.entry(part)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(e)),
        }
    }
}

fn keyring_error(e: keyring::Error) -> ClientError {
    match e {
        keyring::Error::NoDefaultStore => ClientError::Keyring(
            "no credential store (Secret Service, Keychain or Credential Manager) is available"
                .into(),
        ),
        other => ClientError::Keyring(other.to_string()),
    }
}

impl TokenStore for KeyringTokenStore {
    fn load(&self) -> Result<Option<TokenSet>, ClientError> {
        let Some(record) = self.get("session")? else {
            return Ok(None);
        };
        let record: SessionRecord = match serde_json::from_str(record.expose_secret()) {
            Ok(r) => r,
            Err(_) => {
                // Unreadable (another version?): signed out, cleanly.
                self.clear()?;
                return Ok(None);
            }
        };
        let (Some(access_token), Some(id_token)) =
            (self.get("access_token")?, self.get("id_token")?)
        else {
            self.clear()?;
            return Ok(None);
        };
        let refresh_token = self.get("refresh_token")?;
        if record.has_refresh_token && refresh_token.is_none() {
            self.clear()?;
            return Ok(None);
        }
        Ok(Some(TokenSet {
            access_token,
            refresh_token,
            id_token,
            expires_at: record.expires_at,
            subject: record.subject,
            acr: record.acr,
            auth_time: record.auth_time,
        }))
    }

    fn save(&self, t: &TokenSet) -> Result<(), ClientError> {
        // Invalidate first: a crash half-way leaves "signed out", never a mix.
        self.delete("session")?;
        self.entry("access_token")?
            .set_password(t.access_token.expose_secret())
            .map_err(keyring_error)?;
        self.entry("id_token")?
            .set_password(t.id_token.expose_secret())
            .map_err(keyring_error)?;
        match &t.refresh_token {
            Some(r) => self
                .entry("refresh_token")?
                .set_password(r.expose_secret())
                .map_err(keyring_error)?,
            None => self.delete("refresh_token")?,
        }
        let record = SessionRecord {
            expires_at: t.expires_at,
            subject: t.subject.clone(),
            acr: t.acr.clone(),
            auth_time: t.auth_time,
            has_refresh_token: t.refresh_token.is_some(),
        };
        let json =
            serde_json::to_string(&record).map_err(|e| ClientError::Internal(e.to_string()))?;
        self.entry("session")?
            .set_password(&json)
            .map_err(keyring_error)
    }

    fn clear(&self) -> Result<(), ClientError> {
        self.delete("session")?;
        for part in PARTS {
            self.delete(part)?;
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) fn sample_tokens() -> TokenSet {
    TokenSet {
        access_token: SecretString::from("at-123".to_owned()),
        refresh_token: Some(SecretString::from("rt-456".to_owned())),
        id_token: SecretString::from("id-789".to_owned()),
        expires_at: time::macros::datetime!(2030-01-01 00:00:00 UTC),
        subject: "alice".into(),
        acr: "eidas1-mfa".into(),
        auth_time: Some(time::macros::datetime!(2029-12-31 23:00:00 UTC)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_store_saves_loads_and_clears() {
        let s = MemoryTokenStore::default();
        assert!(s.load().unwrap().is_none());
        s.save(&sample_tokens()).unwrap();
        let t = s.load().unwrap().unwrap();
        assert_eq!(t.access_token.expose_secret(), "at-123");
        assert_eq!(t.subject, "alice");
        s.clear().unwrap();
        assert!(s.load().unwrap().is_none());
        s.clear().unwrap();
    }

    #[test]
    fn debug_never_shows_tokens() {
        let d = format!("{:?}", sample_tokens());
        for secret in ["at-123", "rt-456", "id-789"] {
            assert!(!d.contains(secret), "{d}");
        }
        assert!(d.contains("alice"));
    }
}
