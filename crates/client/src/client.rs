//! [`Client`]: the one handle the CLI and the desktop shell hold. It owns
//! the configuration, the HTTP client, the token store and the session, and
//! runs sign-in, refresh, sign-out and step-up.

use std::sync::{Arc, Mutex};

use secrecy::SecretString;
use serde::Serialize;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use crate::config::Config;
use crate::error::{ClientError, Result};
use crate::oidc::{self, LoginProgress, LoginRun, Metadata, StepUp};
use crate::tokens::{KeyringTokenStore, TokenSet, TokenStore};

/// Refresh this long before the access token expires.
const REFRESH_MARGIN: time::Duration = time::Duration::seconds(60);

type ProgressFn = Arc<dyn Fn(LoginProgress) + Send + Sync>;
type OpenFn = Arc<dyn Fn(&str) -> Result<()> + Send + Sync>;

/// What the app shows about the current session (no token in it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SessionInfo {
    pub subject: String,
    pub acr: String,
    #[serde(with = "time::serde::rfc3339::option")]
    #[cfg_attr(feature = "specta", specta(type = Option<String>))]
    pub auth_time: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    #[cfg_attr(feature = "specta", specta(type = String))]
    pub expires_at: OffsetDateTime,
}

impl From<&TokenSet> for SessionInfo {
    fn from(t: &TokenSet) -> Self {
        SessionInfo {
            subject: t.subject.clone(),
            acr: t.acr.clone(),
            auth_time: t.auth_time,
            expires_at: t.expires_at,
        }
    }
}

/// What sign-out managed to do at the provider; local tokens are always gone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
pub struct SignOutReport {
    /// There was a session to end.
    pub was_signed_in: bool,
    /// The refresh token was revoked (RFC 7009).
    pub revoked: bool,
    /// The provider's end-session endpoint was called.
    pub session_ended: bool,
    /// What failed at the provider, in English (local sign-out still happened).
    pub warnings: Vec<String>,
}

pub struct Client {
    pub(crate) config: Config,
    pub(crate) http: reqwest::Client,
    store: Arc<dyn TokenStore>,
    tokens: tokio::sync::Mutex<Option<TokenSet>>,
    loaded: std::sync::atomic::AtomicBool,
    metadata: tokio::sync::Mutex<Option<Arc<Metadata>>>,
    /// One sign-in at a time (a step-up may start one from any call).
    login_lock: tokio::sync::Mutex<()>,
    progress: Mutex<ProgressFn>,
    open_browser: Mutex<OpenFn>,
    cancel: Mutex<CancellationToken>,
}

impl Client {
    /// A client storing its tokens in `store`.
    pub fn new(config: Config, store: Arc<dyn TokenStore>) -> Result<Client> {
        let http = reqwest::Client::builder()
            // Never follow redirects with a bearer token or to another host.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("tessera/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| ClientError::Internal(e.to_string()))?;
        Ok(Client {
            config,
            http,
            store,
            tokens: tokio::sync::Mutex::new(None),
            loaded: std::sync::atomic::AtomicBool::new(false),
            metadata: tokio::sync::Mutex::new(None),
            login_lock: tokio::sync::Mutex::new(()),
            progress: Mutex::new(Arc::new(|_| {})),
            open_browser: Mutex::new(Arc::new(|url: &str| crate::browser::open_url(url))),
            cancel: Mutex::new(CancellationToken::new()),
        })
    }

    /// A client storing its tokens in the OS keyring.
    pub fn with_keyring(config: Config) -> Result<Client> {
        let store = KeyringTokenStore::new(config.issuer.as_str(), &config.client_id);
        Client::new(config, Arc::new(store))
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Called with each step of every sign-in, including step-ups started
    /// by an account API call.
    pub fn on_progress(&self, f: impl Fn(LoginProgress) + Send + Sync + 'static) {
        *self.progress.lock().expect("progress lock") = Arc::new(f);
    }

    /// Replaces how the authorization URL is opened (default: the system
    /// browser, honouring `BROWSER`).
    pub fn on_open_browser(&self, f: impl Fn(&str) -> Result<()> + Send + Sync + 'static) {
        *self.open_browser.lock().expect("browser lock") = Arc::new(f);
    }

    /// Cancels the sign-in under way, if any (it ends with `cancelled`).
    pub fn cancel_login(&self) {
        self.cancel.lock().expect("cancel lock").cancel();
    }

    /// The provider's discovery document (with its JWKS): fetched at every
    /// sign-in, reused for refresh and sign-out.
    async fn metadata(&self) -> Result<Arc<Metadata>> {
        let mut cached = self.metadata.lock().await;
        if let Some(m) = cached.as_ref() {
            return Ok(m.clone());
        }
        let m = Arc::new(oidc::discover(&self.http, &self.config).await?);
        *cached = Some(m.clone());
        Ok(m)
    }

    /// Fetches the discovery document again (keys may have rotated).
    async fn fresh_metadata(&self) -> Result<Arc<Metadata>> {
        let m = Arc::new(oidc::discover(&self.http, &self.config).await?);
        *self.metadata.lock().await = Some(m.clone());
        Ok(m)
    }

    /// Whether a sign-in (or a step-up) is under way.
    pub fn login_in_progress(&self) -> bool {
        self.login_lock.try_lock().is_err()
    }

    /// Signs in through the system browser and stores the tokens.
    pub async fn login(&self) -> Result<SessionInfo> {
        self.run_login(None).await
    }

    async fn run_login(&self, step_up: Option<&StepUp>) -> Result<SessionInfo> {
        let _one_at_a_time = self.login_lock.lock().await;
        let cancel = {
            let mut c = self.cancel.lock().expect("cancel lock");
            *c = CancellationToken::new();
            c.clone()
        };
        let progress = self.progress.lock().expect("progress lock").clone();
        let open_browser = self.open_browser.lock().expect("browser lock").clone();
        progress(LoginProgress::Discovering {
            issuer: self.config.issuer.as_str().to_owned(),
        });
        let meta = tokio::select! {
            _ = cancel.cancelled() => return Err(ClientError::Cancelled),
            m = self.fresh_metadata() => m?,
        };
        let run = LoginRun {
            http: &self.http,
            config: &self.config,
            progress: &*progress,
            cancel: &cancel,
            step_up,
            open_browser: &*open_browser,
        };
        let tokens = oidc::login(run, &meta).await?;
        // A step-up proves the session's own user again; another account
        // signing in in the browser must not take the session over.
        if step_up.is_some()
            && let Some(current) = self.current().await?.as_ref()
            && current.subject != tokens.subject
        {
            return Err(ClientError::WrongUser {
                expected: current.subject.clone(),
                got: tokens.subject,
            });
        }
        let info = SessionInfo::from(&tokens);
        self.save(tokens).await?;
        Ok(info)
    }

    /// The stored session, without any network call.
    pub async fn session(&self) -> Result<Option<SessionInfo>> {
        Ok(self.current().await?.as_ref().map(SessionInfo::from))
    }

    /// Revokes the refresh token, ends the provider session and forgets the
    /// tokens. Local sign-out happens even when the provider is unreachable.
    pub async fn logout(&self) -> Result<SignOutReport> {
        let Some(tokens) = self.current().await?.clone() else {
            return Ok(SignOutReport::default());
        };
        let mut report = SignOutReport {
            was_signed_in: true,
            ..SignOutReport::default()
        };
        match self.metadata().await {
            Ok(meta) => {
                match oidc::revoke(&self.http, &self.config, &meta, &tokens).await {
                    Ok(done) => report.revoked = done,
                    Err(e) => report.warnings.push(e.to_string()),
                }
                match oidc::end_session(&self.http, &self.config, &meta, &tokens).await {
                    Ok(done) => report.session_ended = done,
                    Err(e) => report.warnings.push(e.to_string()),
                }
            }
            Err(e) => report.warnings.push(e.to_string()),
        }
        self.forget().await?;
        Ok(report)
    }

    /// The stored tokens, loaded from the store on first use.
    async fn current(&self) -> Result<tokio::sync::MutexGuard<'_, Option<TokenSet>>> {
        let mut guard = self.tokens.lock().await;
        if !self.loaded.load(std::sync::atomic::Ordering::Acquire) {
            let store = self.store.clone();
            *guard = blocking(move || store.load()).await?;
            self.loaded
                .store(true, std::sync::atomic::Ordering::Release);
        }
        Ok(guard)
    }

    async fn save(&self, tokens: TokenSet) -> Result<()> {
        let mut guard = self.tokens.lock().await;
        let store = self.store.clone();
        let copy = tokens.clone();
        blocking(move || store.save(&copy)).await?;
        *guard = Some(tokens);
        self.loaded
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    async fn forget(&self) -> Result<()> {
        let mut guard = self.tokens.lock().await;
        let store = self.store.clone();
        blocking(move || store.clear()).await?;
        *guard = None;
        self.loaded
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }

    /// A valid access token: refreshed when it expires within a minute (or
    /// when `force`). A refused refresh ends the session.
    pub(crate) async fn access_token(&self, force_refresh: bool) -> Result<SecretString> {
        let mut guard = self.current().await?;
        let Some(tokens) = guard.as_ref() else {
            return Err(ClientError::NotSignedIn);
        };
        if !force_refresh && tokens.expires_at - OffsetDateTime::now_utc() > REFRESH_MARGIN {
            return Ok(tokens.access_token.clone());
        }
        let meta = self.metadata().await?;
        match oidc::refresh(&self.http, &self.config, &meta, tokens).await {
            Ok(refreshed) => {
                if let Some(meta) = refreshed.rediscovered {
                    *self.metadata.lock().await = Some(Arc::new(meta));
                }
                let fresh = refreshed.tokens;
                let store = self.store.clone();
                let copy = fresh.clone();
                blocking(move || store.save(&copy)).await?;
                let token = fresh.access_token.clone();
                *guard = Some(fresh);
                Ok(token)
            }
            Err(
                e @ (ClientError::SessionExpired
                | ClientError::AcrRefused { .. }
                | ClientError::IdToken(_)),
            ) => {
                let store = self.store.clone();
                blocking(move || store.clear()).await?;
                *guard = None;
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Re-runs the sign-in with the step-up's requirements.
    pub(crate) async fn step_up(&self, step_up: &StepUp) -> Result<()> {
        self.run_login(Some(step_up)).await.map(|_| ())
    }
}

/// Runs a blocking token-store call off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ClientError::Internal(e.to_string()))?
}
