//! OpenID Connect with the `openidconnect` crate: discovery, the
//! authorization code flow with PKCE and required 2FA, refresh, revocation
//! and end-session.

use std::time::Duration;

use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGrantType, CoreIdToken, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType, CoreTokenResponse,
};
use openidconnect::{
    AccessTokenHash, AdditionalProviderMetadata, AuthorizationCode, ClientId, CsrfToken,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, IssuerUrl, Nonce, NonceVerifier,
    OAuth2TokenResponse, PkceCodeChallenge, ProviderMetadata, RedirectUrl, RefreshToken,
    RequestTokenError, Scope, SignatureVerificationError, StandardErrorResponse, TokenResponse,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use url::Url;

use crate::callback::Expected;
use crate::config::Config;
use crate::endpoints;
use crate::error::ClientError;
use crate::lifetimes;
use crate::loopback::LoopbackListener;
use crate::policy;
use crate::tokens::TokenSet;

/// Discovery members `openidconnect` does not model.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
pub struct ExtraMetadata {
    #[serde(default)]
    pub end_session_endpoint: Option<Url>,
    #[serde(default)]
    pub revocation_endpoint: Option<Url>,
    /// RFC 9207.
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: bool,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

pub type Metadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// Progress of a sign-in, for the CLI and the app to show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "specta", derive(specta::Type))]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum LoginProgress {
    /// Reading the provider's discovery document.
    Discovering {
        issuer: String,
    },
    /// The browser was asked to open `url`; waiting for the user.
    WaitingForBrowser {
        url: String,
    },
    /// The browser could not be opened: the user must open `url` themself.
    BrowserNotOpened {
        url: String,
        reason: String,
    },
    /// Exchanging the code for tokens and verifying them.
    Exchanging,
    Done {
        subject: String,
        acr: String,
    },
}

/// What a step-up (RFC 9470) asks of the new sign-in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepUp {
    pub max_age: Option<u64>,
    pub acr_values: Vec<String>,
}

pub async fn discover(http: &reqwest::Client, config: &Config) -> Result<Metadata, ClientError> {
    let issuer = config.issuer.as_str();
    let url = IssuerUrl::new(issuer.to_owned()).map_err(|e| discovery_error(issuer, e))?;
    let meta = Metadata::discover_async(url, http)
        .await
        .map_err(|e| discovery_error(issuer, e))?;
    endpoints::check(&meta)?;
    Ok(meta)
}

fn discovery_error(issuer: &str, e: impl std::error::Error) -> ClientError {
    // The source chain says what actually failed (connection refused, …).
    let mut reason = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        reason.push_str(": ");
        reason.push_str(&s.to_string());
        src = s.source();
    }
    ClientError::Discovery {
        issuer: issuer.to_owned(),
        reason,
    }
}

/// A client built from discovery: authorization endpoint set, token and
/// userinfo endpoints as discovered.
type OidcClient = CoreClient<
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

fn client_for(meta: &Metadata, config: &Config) -> OidcClient {
    CoreClient::from_provider_metadata(meta.clone(), ClientId::new(config.client_id.clone()), None)
}

/// The `acr` values acceptable for this sign-in and the ones to request.
fn acr_plan(
    meta: &Metadata,
    config: &Config,
    step_up: Option<&StepUp>,
) -> Result<Vec<String>, ClientError> {
    let supported: Vec<String> = meta
        .acr_values_supported()
        .map(|v| v.iter().map(|a| a.as_str().to_owned()).collect())
        .unwrap_or_default();
    let accepted: Vec<String> = match step_up {
        Some(s) if !s.acr_values.is_empty() => config
            .accepted_acr
            .iter()
            .filter(|a| s.acr_values.contains(a))
            .cloned()
            .collect(),
        _ => config.accepted_acr.clone(),
    };
    if accepted.is_empty() {
        return Err(ClientError::NoAcceptableAcr {
            offered: step_up.map(|s| s.acr_values.clone()).unwrap_or_default(),
            accepted: config.accepted_acr.clone(),
        });
    }
    policy::requested_acr(&accepted, &supported)
}

pub struct LoginRun<'a> {
    pub http: &'a reqwest::Client,
    pub config: &'a Config,
    pub progress: &'a (dyn Fn(LoginProgress) + Send + Sync),
    pub cancel: &'a CancellationToken,
    pub step_up: Option<&'a StepUp>,
    /// Opens the authorization URL (the system browser by default).
    pub open_browser: &'a (dyn Fn(&str) -> Result<(), ClientError> + Send + Sync),
}

/// One complete sign-in. Nothing is stored here: the caller stores the
/// returned tokens, which have passed every check.
pub async fn login(run: LoginRun<'_>, meta: &Metadata) -> Result<TokenSet, ClientError> {
    let config = run.config;
    let lang = config.lang();
    let requested = acr_plan(meta, config, run.step_up)?;

    let listener = LoopbackListener::bind().await?;
    let redirect = RedirectUrl::new(listener.redirect_uri().to_owned())
        .map_err(|e| ClientError::Internal(e.to_string()))?;
    let client = client_for(meta, config).set_redirect_uri(redirect);

    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let mut request = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            // 32 random bytes: 43 base64url characters each.
            || CsrfToken::new_random_len(32),
            || Nonce::new_random_len(32),
        )
        .set_pkce_challenge(pkce_challenge)
        .add_extra_param("claims", policy::claims_parameter(&requested))
        .add_extra_param("ui_locales", lang.as_str());
    let supported_scopes: Vec<String> = meta
        .scopes_supported()
        .map(|v| v.iter().map(|s| s.as_str().to_owned()).collect())
        .unwrap_or_default();
    for scope in ["profile", "email", "offline_access"] {
        if supported_scopes.iter().any(|s| s == scope) {
            request = request.add_scope(Scope::new(scope.to_owned()));
        }
    }
    if let Some(max_age) = run.step_up.and_then(|s| s.max_age) {
        request = request.set_max_age(Duration::from_secs(max_age));
    }
    let (auth_url, state, nonce) = request.url();

    let url = auth_url.to_string();
    (run.progress)(LoginProgress::WaitingForBrowser { url: url.clone() });
    if let Err(e) = (run.open_browser)(&url) {
        // Keep waiting: the user can still open the URL by hand.
        (run.progress)(LoginProgress::BrowserNotOpened {
            url: url.clone(),
            reason: e.to_string(),
        });
    }

    let code = listener
        .wait(
            Expected {
                state: state.secret(),
                issuer: config.issuer.as_str(),
                iss_required: meta
                    .additional_metadata()
                    .authorization_response_iss_parameter_supported,
            },
            lang,
            config.login_timeout,
            run.cancel,
        )
        .await?;

    (run.progress)(LoginProgress::Exchanging);
    let exchange = client
        .exchange_code(AuthorizationCode::new(code.expose_secret().to_owned()))
        .map_err(|e| ClientError::TokenExchange(e.to_string()))?
        .set_pkce_verifier(pkce_verifier)
        .request_async(run.http);
    let response = tokio::select! {
        _ = run.cancel.cancelled() => return Err(ClientError::Cancelled),
        r = exchange => r.map_err(token_error)?,
    };

    let tokens = verified_tokens(&client, &response, &nonce, config, run.step_up, None)?;
    (run.progress)(LoginProgress::Done {
        subject: tokens.subject.clone(),
        acr: tokens.acr.clone(),
    });
    Ok(tokens)
}

/// Refreshes the tokens. A new ID token, when the provider sends one, is
/// verified like the first (its acr included).
/// A refresh's tokens, with the discovery document when it had to be
/// fetched again for them.
pub struct Refreshed {
    pub tokens: TokenSet,
    pub rediscovered: Option<Metadata>,
}

/// Refreshes `current`. A refreshed ID token signed with a key that `meta`
/// does not publish (the provider rotated its keys since `meta` was
/// fetched) is checked against the keys fetched again, rather than ending
/// the session.
pub async fn refresh(
    http: &reqwest::Client,
    config: &Config,
    meta: &Metadata,
    current: &TokenSet,
) -> Result<Refreshed, ClientError> {
    let Some(refresh_token) = &current.refresh_token else {
        return Err(ClientError::SessionExpired);
    };
    let client = client_for(meta, config);
    let rt = RefreshToken::new(refresh_token.expose_secret().to_owned());
    let response = client
        .exchange_refresh_token(&rt)
        .map_err(|e| ClientError::TokenExchange(e.to_string()))?
        .request_async(http)
        .await
        .map_err(|e| match token_error(e) {
            // The grant is gone (expired, revoked, rotated elsewhere).
            ClientError::Provider { error, .. } if error == "invalid_grant" => {
                ClientError::SessionExpired
            }
            other => other,
        })?;
    let rediscovered = if signed_with_an_unpublished_key(&client, &response) {
        Some(discover(http, config).await?)
    } else {
        None
    };
    let client = rediscovered
        .as_ref()
        .map_or(client, |fresh| client_for(fresh, config));
    let tokens = verified_tokens(&client, &response, &NoNonce, config, None, Some(current))?;
    Ok(Refreshed {
        tokens,
        rediscovered,
    })
}

/// Whether the response's ID token names a key that `client`'s JWKS lacks.
fn signed_with_an_unpublished_key(client: &OidcClient, response: &CoreTokenResponse) -> bool {
    response.id_token().is_some_and(|token| {
        matches!(
            token.signing_key(&client.id_token_verifier()),
            Err(SignatureVerificationError::NoMatchingKey)
        )
    })
}

/// Refresh responses carry no nonce.
struct NoNonce;
impl NonceVerifier for &NoNonce {
    fn verify(self, _nonce: Option<&Nonce>) -> Result<(), String> {
        Ok(())
    }
}

fn verified_tokens<N>(
    client: &OidcClient,
    response: &CoreTokenResponse,
    nonce: N,
    config: &Config,
    step_up: Option<&StepUp>,
    previous: Option<&TokenSet>,
) -> Result<TokenSet, ClientError>
where
    N: NonceVerifier + Copy,
    for<'n> &'n Nonce: NonceVerifier,
{
    let access_token = response.access_token();
    let now = OffsetDateTime::now_utc();
    let expires_at = lifetimes::expires_at(now, response.expires_in());
    let refresh_token = response
        .refresh_token()
        .map(|r| SecretString::from(r.secret().to_owned()))
        .or_else(|| previous.and_then(|p| p.refresh_token.clone()));

    let id_token: &CoreIdToken = match (response.id_token(), previous) {
        (Some(t), _) => t,
        (None, Some(p)) => {
            return Ok(TokenSet {
                access_token: SecretString::from(access_token.secret().to_owned()),
                refresh_token,
                id_token: p.id_token.clone(),
                expires_at,
                subject: p.subject.clone(),
                acr: p.acr.clone(),
                auth_time: p.auth_time,
            });
        }
        (None, None) => return Err(ClientError::IdToken("the provider sent no ID token".into())),
    };
    let verifier = client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, nonce)
        .map_err(|e| ClientError::IdToken(e.to_string()))?;
    if let Some(expected) = claims.access_token_hash() {
        let alg = id_token
            .signing_alg()
            .map_err(|e| ClientError::IdToken(e.to_string()))?;
        let key = id_token
            .signing_key(&verifier)
            .map_err(|e| ClientError::IdToken(e.to_string()))?;
        let actual = AccessTokenHash::from_token(access_token, alg, key)
            .map_err(|e| ClientError::IdToken(e.to_string()))?;
        if &actual != expected {
            return Err(ClientError::IdToken(
                "at_hash does not match the access token".into(),
            ));
        }
    }
    if let Some(p) = previous
        && claims.subject().as_str() != p.subject
    {
        return Err(ClientError::IdToken(
            "the refreshed ID token names another user".into(),
        ));
    }
    // A refreshed ID token may leave acr out (OIDC Core §12.2 does not
    // require it); the session keeps the acr its sign-in was checked with.
    let acr = claims
        .auth_context_ref()
        .map(|a| a.as_str().to_owned())
        .or_else(|| previous.map(|p| p.acr.clone()));
    policy::check_acr(acr.as_deref(), &config.accepted_acr)?;
    let auth_time = claims
        .auth_time()
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t.timestamp()).ok());
    if let Some(max_age) = step_up.and_then(|s| s.max_age)
        && !lifetimes::signed_in_within(now, auth_time, max_age)
    {
        return Err(ClientError::IdToken(format!(
            "the provider did not sign you in again within {max_age} seconds as required"
        )));
    }
    Ok(TokenSet {
        access_token: SecretString::from(access_token.secret().to_owned()),
        refresh_token,
        id_token: SecretString::from(id_token.to_string()),
        expires_at,
        subject: claims.subject().as_str().to_owned(),
        acr: acr.unwrap_or_default(),
        auth_time,
    })
}

fn token_error<RE>(
    e: RequestTokenError<RE, StandardErrorResponse<CoreErrorResponseType>>,
) -> ClientError
where
    RE: std::error::Error + 'static,
{
    match e {
        RequestTokenError::ServerResponse(r) => {
            let error = r.error().as_ref().to_owned();
            let description = r.error_description().cloned();
            if error == "access_denied" {
                ClientError::AccessDenied { description }
            } else {
                ClientError::Provider { error, description }
            }
        }
        other => ClientError::TokenExchange(other.to_string()),
    }
}

/// RFC 7009: revokes the refresh token (and with it the grant). Returns
/// whether the provider has a revocation endpoint.
pub async fn revoke(
    http: &reqwest::Client,
    config: &Config,
    meta: &Metadata,
    tokens: &TokenSet,
) -> Result<bool, ClientError> {
    let Some(endpoint) = &meta.additional_metadata().revocation_endpoint else {
        return Ok(false);
    };
    let (token, hint) = match &tokens.refresh_token {
        Some(r) => (r, "refresh_token"),
        None => (&tokens.access_token, "access_token"),
    };
    let form = [
        ("token", token.expose_secret()),
        ("token_type_hint", hint),
        ("client_id", config.client_id.as_str()),
    ];
    let resp = http
        .post(endpoint.clone())
        .form(&form)
        .send()
        .await
        .map_err(|e| ClientError::network(endpoint, e))?;
    if !resp.status().is_success() {
        return Err(ClientError::Provider {
            error: format!("revocation answered {}", resp.status()),
            description: None,
        });
    }
    Ok(true)
}

/// OpenID Connect RP-initiated logout, called from Rust (the provider ends
/// the session the ID token names). Returns whether there is an endpoint.
pub async fn end_session(
    http: &reqwest::Client,
    config: &Config,
    meta: &Metadata,
    tokens: &TokenSet,
) -> Result<bool, ClientError> {
    let Some(endpoint) = &meta.additional_metadata().end_session_endpoint else {
        return Ok(false);
    };
    let mut url = endpoint.clone();
    url.query_pairs_mut()
        .append_pair("id_token_hint", tokens.id_token.expose_secret())
        .append_pair("client_id", &config.client_id);
    let resp = http
        .get(url)
        .send()
        .await
        .map_err(|e| ClientError::network(endpoint, e))?;
    // A redirect or a "you are signed out" page both mean done.
    if resp.status().is_client_error() || resp.status().is_server_error() {
        return Err(ClientError::Provider {
            error: format!("end-session answered {}", resp.status()),
            description: None,
        });
    }
    Ok(true)
}
