//! Issuing and checking the provider's JWTs: ID tokens (OIDC Core §2) and
//! access tokens (RFC 9068, audience = the account API).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::crypto::random_token;
use crate::error::OAuthError;
use crate::jwt::at_hash;
use crate::state::Provider;
use crate::store::{BearerSubject, Device, User};

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
/// The `typ` of ID tokens: plain JWT, which access tokens (`at+jwt`) are not.
pub const ID_TOKEN_TYP: &str = "JWT";

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
    (app.keys().sign(ACCESS_TOKEN_TYP, &claims), claims)
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
    app.keys().sign(ID_TOKEN_TYP, &claims)
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

/// Checks a bearer access token and loads its subject: signature, type,
/// issuer, audience and expiry (skipped when the token was verified before,
/// see [`VerifiedAccessTokens`]), then revocation and the user as stored now,
/// in one store read. Whether a disabled user may proceed is the caller's
/// decision; a deleted one is `None`.
pub async fn authenticate_bearer(
    app: &Provider,
    token: &str,
) -> Result<(Arc<AccessClaims>, Option<User>), OAuthError> {
    let key = TokenDigest::of(token);
    let claims = app.verified_tokens.claims(app, &key, token).await?;
    let subject = app.store.bearer_subject(&claims.sub, &claims.jti).await?;
    let user = admit(app, &key, &claims, subject)?;
    Ok((claims, user))
}

/// [`authenticate_bearer`], with the subject's devices read in the same
/// store call (one Redis round trip for `GET /api/v1/me/devices`). The
/// devices are returned only when the token is accepted.
pub async fn authenticate_bearer_and_devices(
    app: &Provider,
    token: &str,
) -> Result<(Arc<AccessClaims>, Option<User>, Vec<Device>), OAuthError> {
    let key = TokenDigest::of(token);
    let claims = app.verified_tokens.claims(app, &key, token).await?;
    let (subject, devices) = app
        .store
        .bearer_subject_and_devices(&claims.sub, &claims.jti)
        .await?;
    let user = admit(app, &key, &claims, subject)?;
    Ok((claims, user, devices))
}

/// The subject of a verified token, unless the token was revoked, or its
/// sign-in predates a reset of the user's devices.
fn admit(
    app: &Provider,
    key: &TokenDigest,
    claims: &AccessClaims,
    subject: BearerSubject,
) -> Result<Option<User>, OAuthError> {
    if subject.token_revoked {
        app.verified_tokens.forget(key);
        return Err(OAuthError::invalid_token("the token has been revoked"));
    }
    if let Some(user) = &subject.user
        && !user.signed_in_since_reset(claims.auth_time)
    {
        app.verified_tokens.forget(key);
        return Err(OAuthError::invalid_token(
            "the sign-in behind this token predates a reset of the account's authenticator apps",
        ));
    }
    Ok(subject.user)
}

async fn verify_access_token(app: &Provider, token: &str) -> Result<AccessClaims, OAuthError> {
    let value = app
        .verify_jwt(token, Some(ACCESS_TOKEN_TYP))
        .await
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
    Ok(claims)
}

/// Access tokens whose signature and claims were already verified, keyed by
/// the SHA-256 of the whole token and dropped at the token's expiry (what
/// DESIGN §8 allows): a hit saves the ES256 verification, which is most of
/// an account API read's CPU. Expiry is still checked on every use, and
/// revocation and the user are always read from the store.
#[derive(Debug, Default)]
pub struct VerifiedAccessTokens {
    entries: Mutex<HashMap<TokenDigest, Arc<AccessClaims>>>,
}

/// The SHA-256 of a whole bearer token: the cache's key, kept as bytes
/// (no hex string to build on every request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct TokenDigest([u8; 32]);

impl TokenDigest {
    fn of(token: &str) -> TokenDigest {
        use sha2::Digest;
        TokenDigest(sha2::Sha256::digest(token.as_bytes()).into())
    }
}

/// Beyond this many entries the cache drops expired ones, then everything.
const VERIFIED_TOKENS_MAX: usize = 20_000;

impl VerifiedAccessTokens {
    /// The unexpired claims of the token whose hash is `key`.
    async fn claims(
        &self,
        app: &Provider,
        key: &TokenDigest,
        token: &str,
    ) -> Result<Arc<AccessClaims>, OAuthError> {
        let now = OffsetDateTime::now_utc().unix_timestamp();
        let cached = self.lock().get(key).cloned();
        let claims = match cached {
            Some(claims) => claims,
            None => {
                let claims = Arc::new(verify_access_token(app, token).await?);
                let mut entries = self.lock();
                if entries.len() >= VERIFIED_TOKENS_MAX {
                    entries.retain(|_, c| c.exp > now);
                    if entries.len() >= VERIFIED_TOKENS_MAX {
                        entries.clear();
                    }
                }
                entries.insert(*key, claims.clone());
                claims
            }
        };
        if claims.exp <= now {
            self.forget(key);
            return Err(OAuthError::invalid_token("the token has expired"));
        }
        Ok(claims)
    }

    fn forget(&self, key: &TokenDigest) {
        self.lock().remove(key);
    }

    /// Forgets every token: the signing keys changed, and a token signed
    /// with a key no longer held must be refused at once.
    pub fn clear(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<TokenDigest, Arc<AccessClaims>>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
