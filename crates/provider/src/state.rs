//! The provider's shared state: configuration, store, keys. One `AppState`
//! (an `Arc<Provider>`) is handed to every handler.

use std::sync::Arc;

use crate::config::Config;
use crate::crypto::SecretKey;
use crate::jwt::SigningKeys;
use crate::store::{SIGNING_KEY, Store, StoreError};

pub type AppState = Arc<Provider>;

pub struct Provider {
    pub config: Config,
    /// `config.issuer()`, computed once.
    pub issuer: String,
    pub api_audience: String,
    pub store: Arc<dyn Store>,
    pub keys: SigningKeys,
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
            .field("kid", &self.keys.kid())
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error(
        "the stored signing key cannot be decrypted: the secret key differs from the one it was created with"
    )]
    SigningKey,
    #[error("{0}")]
    Io(String),
}

impl Provider {
    /// Checks the configuration, then loads the signing key from the store,
    /// generating and persisting it on first start (sealed with the secret
    /// key). Concurrent first starts agree on one key.
    pub async fn new(
        config: Config,
        store: Arc<dyn Store>,
        secret_key: SecretKey,
    ) -> Result<Provider, StartError> {
        config.validate()?;
        let sealed = match store.get_key_material(SIGNING_KEY).await? {
            Some(v) => v,
            None => {
                let fresh = SigningKeys::generate();
                let pem = secrecy::ExposeSecret::expose_secret(&fresh.to_pkcs8_pem()).to_owned();
                let sealed = secret_key.seal(pem.as_bytes(), SIGNING_KEY);
                store
                    .put_key_material_if_absent(SIGNING_KEY, &sealed)
                    .await?
            }
        };
        let pem = secret_key
            .open(&sealed, SIGNING_KEY)
            .map_err(|_| StartError::SigningKey)?;
        let pem = std::str::from_utf8(secrecy::ExposeSecret::expose_secret(&pem))
            .map_err(|_| StartError::SigningKey)?
            .to_owned();
        let keys = SigningKeys::from_pkcs8_pem(&pem).map_err(|_| StartError::SigningKey)?;
        let issuer = config.issuer();
        Ok(Provider {
            api_audience: config.api_audience(),
            secure_cookies: !issuer.starts_with("http://"),
            issuer,
            config,
            store,
            keys,
            secret_key,
            verified_tokens: Default::default(),
        })
    }
}
