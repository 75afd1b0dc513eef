//! The authorization endpoint: validates the request in the order the specs
//! require (client and redirect URI first — until both are known good,
//! errors are shown as a page, never redirected), then either answers at
//! once from a sufficient browser session or starts a sign-in transaction.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::OffsetDateTime;

use crate::acr::{AcrError, AcrRequest};
use crate::config::Config;
use crate::i18n::Lang;
use crate::oidc::redirect::{error_redirect, redirect_uri_matches};
use crate::pages::error_page;
use crate::signin;
use crate::state::AppState;
use crate::store::Client;
use crate::web::{self, Params};

/// A validated authorization request, kept in the sign-in transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    pub client_id: String,
    pub client_name: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub acr: AcrRequest,
    pub claims: Option<Value>,
    /// `prompt=login`, or `max_age=0`.
    pub force_login: bool,
    pub prompt_none: bool,
    pub max_age: Option<u64>,
    pub login_hint: Option<String>,
    /// `ui_locales` (OIDC Core §3.1.2.1): preferred languages, before Accept-Language.
    #[serde(default)]
    pub ui_locales: Option<String>,
    pub client_requires_mfa: Option<bool>,
}

/// Scopes this provider knows; others are dropped from the grant.
const SUPPORTED_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access", "roles"];

pub async fn authorize(
    State(app): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let mut lang = Lang::from_headers(&headers);
    let params = match Params::parse(query.unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(e) => {
            let t = lang.texts();
            return error_page(
                lang,
                StatusCode::BAD_REQUEST,
                &format!("{}: {e}.", t.bad_request),
            );
        }
    };
    if let Some(preferred) = params.get("ui_locales").and_then(Lang::from_ui_locales) {
        lang = preferred;
    }
    let t = lang.texts();
    // 1. Client and redirect URI: until both are validated, show a page.
    let Some(client_id) = params.get("client_id") else {
        return error_page(lang, StatusCode::BAD_REQUEST, t.missing_client_id);
    };
    let client = match app.store.get_client(client_id).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            return error_page(lang, StatusCode::BAD_REQUEST, t.unknown_client);
        }
        Err(_) => return error_page(lang, StatusCode::SERVICE_UNAVAILABLE, t.unavailable),
    };
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return error_page(lang, StatusCode::BAD_REQUEST, t.missing_redirect_uri);
    };
    if !client
        .redirect_uris
        .iter()
        .any(|r| redirect_uri_matches(r, redirect_uri))
    {
        return error_page(lang, StatusCode::BAD_REQUEST, t.unregistered_redirect_uri);
    }
    // 2. From here on, errors go back to the client.
    let state = params.get("state").map(str::to_owned);
    let fail = |error: &str, description: &str| {
        error_redirect(
            redirect_uri,
            error,
            description,
            state.as_deref(),
            &app.issuer,
        )
    };
    let request = match validate(&app.config, &client, redirect_uri, &params) {
        Ok(r) => r,
        Err((error, description)) => return fail(error, &description),
    };
    signin::begin(
        &app,
        request,
        &headers,
        web::origin(peer, &headers, &app.config.trusted_proxies),
        lang,
    )
    .await
}

/// Everything after the client and redirect URI (which the caller has
/// checked); `Err((error, description))` is redirected to the client. Pure,
/// so it can be fuzzed.
pub fn validate(
    config: &Config,
    client: &Client,
    redirect_uri: &str,
    params: &Params,
) -> Result<AuthRequest, (&'static str, String)> {
    if params.get("request").is_some() {
        return Err((
            "request_not_supported",
            "request objects are not supported".into(),
        ));
    }
    if params.get("request_uri").is_some() {
        return Err((
            "request_uri_not_supported",
            "request_uri is not supported".into(),
        ));
    }
    match params.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err((
                "unsupported_response_type",
                "only response_type=code is supported".into(),
            ));
        }
        None => return Err(("invalid_request", "response_type is missing".into())),
    }
    if let Some(mode) = params.get("response_mode")
        && mode != "query"
    {
        return Err((
            "invalid_request",
            "only response_mode=query is supported".into(),
        ));
    }
    let requested: Vec<&str> = params
        .get("scope")
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    if !requested.contains(&"openid") {
        return Err(("invalid_scope", "the openid scope is required".into()));
    }
    let mut scope: Vec<&str> = Vec::new();
    for s in requested {
        if SUPPORTED_SCOPES.contains(&s) && !scope.contains(&s) {
            scope.push(s);
        }
    }
    // PKCE (RFC 7636) with S256 only, for every client.
    let code_challenge = match (
        params.get("code_challenge"),
        params.get("code_challenge_method"),
    ) {
        (None, _) => {
            return Err((
                "invalid_request",
                "code_challenge (PKCE) is required".into(),
            ));
        }
        (Some(_), m) if m != Some("S256") => {
            return Err((
                "invalid_request",
                "code_challenge_method must be S256".into(),
            ));
        }
        (Some(c), _) => c,
    };
    if code_challenge.len() != 43
        || !code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err((
            "invalid_request",
            "code_challenge must be a base64url SHA-256 digest".into(),
        ));
    }
    let claims = match params.get("claims") {
        None => None,
        Some(raw) => Some(serde_json::from_str::<Value>(raw).map_err(|_| {
            (
                "invalid_request",
                "the claims parameter is not valid JSON".to_owned(),
            )
        })?),
    };
    let acr = AcrRequest::parse(claims.as_ref(), params.get("acr_values"), config).map_err(
        |e| match e {
            AcrError::BadClaims => ("invalid_request", e.to_string()),
            AcrError::Unsatisfiable => (
                "access_denied",
                "none of the requested essential acr values can be satisfied by this provider"
                    .to_owned(),
            ),
        },
    )?;
    let prompts: Vec<&str> = params
        .get("prompt")
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return Err((
            "invalid_request",
            "prompt=none cannot be combined with other values".into(),
        ));
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            (
                "invalid_request",
                "max_age must be a number of seconds".to_owned(),
            )
        })?),
    };
    let nonce = params.get("nonce").map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > 512)
        || params.get("state").is_some_and(|s| s.len() > 2048)
    {
        return Err(("invalid_request", "nonce or state is too long".into()));
    }
    Ok(AuthRequest {
        client_id: client.client_id.clone(),
        client_name: client.name.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope: scope.join(" "),
        state: params.get("state").map(str::to_owned),
        nonce,
        code_challenge: code_challenge.to_owned(),
        acr,
        claims,
        force_login: prompts.contains(&"login") || max_age == Some(0),
        prompt_none: prompts.contains(&"none"),
        max_age,
        login_hint: params
            .get("login_hint")
            .map(|s| s.chars().take(256).collect()),
        ui_locales: params
            .get("ui_locales")
            .map(|s| s.chars().take(100).collect()),
        client_requires_mfa: client.require_mfa,
    })
}

/// Whether a session authenticated at `auth_time` is recent enough.
pub fn fresh_enough(request: &AuthRequest, auth_time: OffsetDateTime, now: OffsetDateTime) -> bool {
    if request.force_login {
        return false;
    }
    match request.max_age {
        Some(max) => (now - auth_time).whole_seconds() <= max as i64,
        None => true,
    }
}
