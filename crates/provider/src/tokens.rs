//! Issuing and checking the provider's JWTs: ID tokens (OIDC Core §2) and
//! access tokens (RFC 9068, audience = the account API).

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto::random_token;
use crate::error::OAuthError;
use crate::jwt::at_hash;
use crate::revocation;
use crate::state::Provider;
use crate::store::User;

/// What a token is issued for: from an authorization code or a refresh token.
#[derive(Debug, Clone)]
pub struct Grant {
    pub client_id: String,
    pub scope: String,
    pub acr: Option<String>,
    pub amr: Vec<String>,
    pub auth_time: OffsetDateTime,
    pub nonce: Option<String>,
}

/// Claims of an access token (RFC 9068 §2.2 plus `acr`, `amr`, `roles`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub scope: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    pub amr: Vec<String>,
    pub roles: Vec<String>,
}

pub const ACCESS_TOKEN_TYP: &str = "at+jwt";

pub fn access_token(
    app: &Provider,
    user: &User,
    grant: &Grant,
    now: OffsetDateTime,
) -> (String, AccessClaims) {
    let iat = now.unix_timestamp();
    let claims = AccessClaims {
        iss: app.issuer.clone(),
        sub: user.uid.clone(),
        aud: app.api_audience.clone(),
        client_id: grant.client_id.clone(),
        scope: grant.scope.clone(),
        exp: iat + app.config.tokens.access_token_secs as i64,
        iat,
        jti: random_token(16),
        auth_time: grant.auth_time.unix_timestamp(),
        acr: grant.acr.clone(),
        amr: grant.amr.clone(),
        roles: user.roles.iter().cloned().collect(),
    };
    (app.keys.sign(ACCESS_TOKEN_TYP, &claims), claims)
}

pub fn id_token(
    app: &Provider,
    user: &User,
    grant: &Grant,
    access_token: &str,
    now: OffsetDateTime,
) -> String {
    let iat = now.unix_timestamp();
    let mut claims = serde_json::json!({
        "iss": app.issuer,
        "sub": user.uid,
        "aud": grant.client_id,
        "azp": grant.client_id,
        "exp": iat + app.config.tokens.id_token_secs as i64,
        "iat": iat,
        "auth_time": grant.auth_time.unix_timestamp(),
        "amr": grant.amr,
        "at_hash": at_hash(access_token),
    });
    if let Some(acr) = &grant.acr {
        claims["acr"] = acr.clone().into();
    }
    if let Some(nonce) = &grant.nonce {
        claims["nonce"] = nonce.clone().into();
    }
    add_profile_claims(&mut claims, user, &grant.scope);
    app.keys.sign("JWT", &claims)
}

/// The standard claims the granted scopes release.
pub fn add_profile_claims(claims: &mut serde_json::Value, user: &User, scope: &str) {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    if scopes.contains(&"profile") {
        claims["name"] = user.display_name.clone().into();
        claims["preferred_username"] = user.uid.clone().into();
    }
    if scopes.contains(&"email") {
        claims["email"] = user.email.clone().into();
    }
    if scopes.contains(&"roles") {
        claims["roles"] = user.roles.iter().cloned().collect::<Vec<_>>().into();
    }
}

/// Checks an access token presented as a bearer token: signature, type,
/// issuer, audience, expiry, revocation. The user's state is the caller's.
pub async fn verify_access_token(app: &Provider, token: &str) -> Result<AccessClaims, OAuthError> {
    let value = app
        .keys
        .verify(token, Some(ACCESS_TOKEN_TYP))
        .map_err(|e| OAuthError::invalid_token(e.to_string()))?;
    let claims: AccessClaims = serde_json::from_value(value)
        .map_err(|_| OAuthError::invalid_token("the token's claims are not an access token's"))?;
    if claims.iss != app.issuer {
        return Err(OAuthError::invalid_token(
            "the token was issued by another issuer",
        ));
    }
    if claims.aud != app.api_audience {
        return Err(OAuthError::invalid_token(
            "the token is not meant for this audience",
        ));
    }
    if claims.exp <= OffsetDateTime::now_utc().unix_timestamp() {
        return Err(OAuthError::invalid_token("the token has expired"));
    }
    if revocation::is_access_token_revoked(app, &claims.jti).await? {
        return Err(OAuthError::invalid_token("the token has been revoked"));
    }
    Ok(claims)
}
