//! The provider's shared state: configuration, store, keys. One `AppState`
//! (an `Arc<Provider>`) is handed to every handler.

use std::sync::Arc;

use serde_json::Value;

use crate::config::Config;
use crate::crypto::SecretKey;
use crate::jwt::{JwtError, SigningKeys};
use crate::keyring::{self, KeyringError, LiveKeys};
use crate::store::{Store, StoreError};

pub type AppState = Arc<Provider>;

pub struct Provider {
    pub config: Config,
    /// `config.issuer()`, computed once.
    pub issuer: String,
    pub api_audience: String,
    pub store: Arc<dyn Store>,
    /// The signing keys, as last read from the store: see [`Provider::keys`].
    signing: LiveKeys,
    pub secret_key: SecretKey,
    /// Cookies get `Secure` unless the issuer is plain http (loopback only).
    pub secure_cookies: bool,
    /// Bearer access tokens already verified (userinfo, account API).
    pub verified_tokens: crate::tokens::VerifiedAccessTokens,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.issuer)
            .field("store", &self.store.kind())
            .field("keys", &self.keys())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Keys(#[from] KeyringError),
    #[error("{0}")]
    Io(String),
}

impl Provider {
    /// Checks the configuration, then loads the signing keys from the
    /// store, generating and persisting the first one on first start
    /// (sealed with the secret key). Concurrent first starts agree on one key.
    pub async fn new(
        config: Config,
        store: Arc<dyn Store>,
        secret_key: SecretKey,
    ) -> Result<Provider, StartError> {
        config.validate()?;
        let signing = LiveKeys::load(&*store, &secret_key).await?;
        let issuer = config.issuer();
        Ok(Provider {
            api_audience: config.api_audience(),
            secure_cookies: !issuer.starts_with("http://"),
            issuer,
            config,
            store,
            signing,
            secret_key,
            verified_tokens: Default::default(),
        })
    }

    /// The signing keys: the active one signs, the active and the retired
    /// one verify (`keyring`).
    pub fn keys(&self) -> Arc<SigningKeys> {
        self.signing.get()
    }

    /// Reads the signing keys again from the store (a rotation by the
    /// command line or another instance); answers whether they changed.
    /// Tokens verified with the keys as they were are verified again.
    pub async fn reload_keys(&self) -> Result<bool, KeyringError> {
        let changed = self.signing.reload(&*self.store, &self.secret_key).await?;
        if changed {
            self.verified_tokens.clear();
        }
        Ok(changed)
    }

    /// [`Self::reload_keys`] for a token naming an unknown key (at most
    /// once a second; see [`LiveKeys::reload_soon`]).
    async fn reload_keys_soon(&self) {
        let changed = self
            .signing
            .reload_soon(&*self.store, &self.secret_key)
            .await;
        if changed {
            self.verified_tokens.clear();
        }
    }

    /// Verifies a JWT with the signing keys ([`SigningKeys::verify`]). A key
    /// id this provider does not hold makes it read the keys again first:
    /// another instance on the same store may have rotated them.
    pub async fn verify_jwt(
        &self,
        token: &str,
        typ: Option<&'static str>,
    ) -> Result<Value, JwtError> {
        match self.keys().verify(token, typ) {
            Err(JwtError::UnknownKey) => {
                // Again whether or not this read changed them: a concurrent
                // one may have.
                self.reload_keys_soon().await;
                self.keys().verify(token, typ)
            }
            verified => verified,
        }
    }
}

/// Reads the signing keys again every [`keyring::RELOAD_INTERVAL`] while
/// `app` serves, so that every instance signs with a rotated key soon.
pub fn reload_keys_periodically(app: &AppState) {
    let app = Arc::downgrade(app);
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(keyring::RELOAD_INTERVAL);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            let Some(app) = app.upgrade() else { return };
            if let Err(e) = app.reload_keys().await {
                tracing::warn!(error = %e, "the signing keys could not be read again");
            }
        }
    });
}
