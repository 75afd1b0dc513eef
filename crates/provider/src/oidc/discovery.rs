//! Discovery (OpenID Connect Discovery 1.0) and the JWKS.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use crate::state::{AppState, Provider};

pub fn document(app: &Provider) -> Value {
    let i = &app.issuer;
    json!({
        "issuer": i,
        "authorization_endpoint": format!("{i}/authorize"),
        "token_endpoint": format!("{i}/token"),
        "userinfo_endpoint": format!("{i}/userinfo"),
        "jwks_uri": format!("{i}/jwks"),
        "end_session_endpoint": format!("{i}/logout"),
        "revocation_endpoint": format!("{i}/revoke"),
        "scopes_supported": ["openid", "profile", "email", "offline_access", "roles"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "revocation_endpoint_auth_methods_supported": ["none", "client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_parameter_supported": true,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "acr_values_supported": app.config.acr.iter().map(|l| l.value.clone()).collect::<Vec<_>>(),
        "claims_supported": [
            "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "azp",
            "name", "preferred_username", "email", "roles"
        ],
        "prompt_values_supported": ["none", "login"],
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["fr", "en"],
    })
}

pub async fn discovery(State(app): State<AppState>) -> Json<Value> {
    Json(document(&app))
}

/// The keys as the store holds them now: read again on every request (two
/// small lookups), so that a relying party that fetches them after a
/// rotation by another instance finds the key of the tokens it signs.
pub async fn jwks(State(app): State<AppState>) -> Json<Value> {
    if let Err(e) = app.reload_keys().await {
        // The keys as last read are still this provider's.
        tracing::warn!(error = %e, "the signing keys could not be read again");
    }
    Json(app.keys().jwks())
}
