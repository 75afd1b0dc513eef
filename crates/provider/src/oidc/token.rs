//! The token endpoint: `authorization_code` (single use, bound to client,
//! redirect URI and PKCE verifier) and `refresh_token` (rotated; a reused
//! token revokes its family).

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use time::{Duration, OffsetDateTime};

use super::client_auth::authenticate;
use crate::audit::{self, Origin};
use crate::crypto::{ct_eq, random_token, sha256_b64url, token_hash};
use crate::error::OAuthError;
use crate::revocation;
use crate::state::{AppState, Provider};
use crate::store::{self, AuditAction, AuthCodeGrant, Client, RefreshToken, StoreError, User};
use crate::tokens::{self, Grant};
use crate::web::{OAuthForm, Params};

pub async fn token(
    State(app): State<AppState>,
    headers: HeaderMap,
    OAuthForm(form): OAuthForm,
) -> Response {
    match handle(&app, &headers, &form).await {
        Ok(resp) => resp,
        Err(e) => e.into_response(),
    }
}

async fn handle(
    app: &Provider,
    headers: &HeaderMap,
    form: &Params,
) -> Result<Response, OAuthError> {
    // A code is looked up while its client authenticates (one store round
    // trip fewer per sign-in); nothing is done with it unless the client is
    // who it says.
    let grant_type = form.get("grant_type");
    let code = match grant_type {
        Some("authorization_code") => form.get("code"),
        _ => None,
    };
    let (client, grant) = tokio::join!(authenticate(app, headers, form), look_up_code(app, code));
    let client = client?;
    match grant_type {
        Some("authorization_code") => authorization_code(app, &client, form, grant?).await,
        Some("refresh_token") => refresh(app, &client, form).await,
        Some(_) => Err(OAuthError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be authorization_code or refresh_token",
        )),
        None => Err(OAuthError::invalid_request("grant_type is missing")),
    }
}

/// The unexpired grant of `code`, if one was given and is stored.
async fn look_up_code(
    app: &Provider,
    code: Option<&str>,
) -> Result<Option<AuthCodeGrant>, StoreError> {
    match code {
        Some(code) => app.store.get_auth_code(&token_hash(code)).await,
        None => Ok(None),
    }
}

/// RFC 7636 §4.1: 43 to 128 unreserved characters.
fn valid_verifier(v: &str) -> bool {
    (43..=128).contains(&v.len())
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The exchange of a code, whose grant `stored` was looked up (see
/// [`look_up_code`]) while `client` authenticated.
async fn authorization_code(
    app: &Provider,
    client: &Client,
    form: &Params,
    stored: Option<AuthCodeGrant>,
) -> Result<Response, OAuthError> {
    let code = form
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is missing"))?;
    let redirect_uri = form
        .get("redirect_uri")
        .ok_or_else(|| OAuthError::invalid_request("redirect_uri is missing"))?;
    let verifier = form
        .get("code_verifier")
        .ok_or_else(|| OAuthError::invalid_request("code_verifier is missing"))?;
    let code_hash = token_hash(code);
    let Some(grant) = stored else {
        return Err(code_reused_or_unknown(app, client, &code_hash).await?);
    };
    let checked = check_binding(client, &grant, redirect_uri, verifier)
        .and_then(|()| check_not_before_recovery(app, &grant));
    if let Err(refusal) = checked {
        // A code that failed a check is consumed all the same: it does not
        // stay usable for another try.
        app.store.take_auth_code(&code_hash).await?;
        return Err(refusal);
    }
    let now = OffsetDateTime::now_utc();
    let g = Grant {
        client_id: client.client_id.clone(),
        scope: grant.scope.clone(),
        acr: grant.acr.clone(),
        amr: grant.amr.clone(),
        auth_time: grant.auth_time,
        nonce: grant.nonce.clone(),
    };
    let family = random_token(16);
    let (refresh, record) = new_refresh(app, &grant.uid, &g, &family, now);
    let keep_until =
        now + Duration::seconds((app.config.tokens.refresh_token_secs as i64).min(86_400));
    let refresh_hash = token_hash(&refresh);
    // The user is checked while the code is redeemed (one store round trip
    // fewer per sign-in). The tokens are answered only when both hold.
    let (user, redeemed) = tokio::join!(
        active_user(app, &grant.uid, grant.auth_time),
        // Lazily: what a crash can lose of it is a refresh token, which
        // signing in again replaces, and the code's redemption, whose code
        // is then refused as issued before the recovery (below); durable
        // within `store::FLUSH_EVERY` all the same (ARCHITECTURE, decisions).
        store::lazily(
            app.store
                .redeem_auth_code(&code_hash, &refresh_hash, &record, keep_until)
        )
    );
    let redeemed = redeemed?;
    let user = match user {
        Ok(user) => user,
        Err(refusal) => {
            // The code is spent either way; the refresh token just stored
            // for a user who may no longer have one goes before anyone has
            // seen it.
            if redeemed {
                app.store.revoke_refresh_family(&family).await?;
            }
            return Err(refusal);
        }
    };
    if !redeemed {
        // Another exchange of the same code redeemed it since it was read.
        return Err(code_reused_or_unknown(app, client, &code_hash).await?);
    }
    Ok(respond(app, &user, &g, refresh, now))
}

/// The refusal of a code that is not (or no longer) stored. A code that was
/// redeemed is being presented again: whoever holds it may not be its
/// client, so the tokens it produced are revoked (RFC 6749 §4.1.2).
async fn code_reused_or_unknown(
    app: &Provider,
    client: &Client,
    code_hash: &str,
) -> Result<OAuthError, StoreError> {
    let Some(family) = revocation::redeemed_code_family(app, code_hash).await? else {
        return Ok(OAuthError::invalid_grant(
            "the authorization code is invalid or expired",
        ));
    };
    let revoked = app.store.revoke_refresh_family(&family).await?;
    tracing::warn!(client_id = %client.client_id, revoked, "authorization code reused; its tokens are revoked");
    Ok(OAuthError::invalid_grant(
        "the authorization code was already used",
    ))
}

/// The grant's binding to the client, redirect URI and PKCE verifier.
fn check_binding(
    client: &Client,
    grant: &AuthCodeGrant,
    redirect_uri: &str,
    verifier: &str,
) -> Result<(), OAuthError> {
    if grant.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued to another client",
        ));
    }
    if grant.redirect_uri != redirect_uri {
        return Err(OAuthError::invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    let challenge = grant.code_challenge.as_deref().unwrap_or_default();
    if !valid_verifier(verifier) || !ct_eq(&sha256_b64url(verifier), challenge) {
        return Err(OAuthError::invalid_grant(
            "the PKCE code_verifier does not match the code_challenge",
        ));
    }
    Ok(())
}

/// A code issued before the store's recovery from a crash may have lost
/// its redemption in it (see `Store::recovered_at`): it may have been
/// redeemed already.
fn check_not_before_recovery(app: &Provider, grant: &AuthCodeGrant) -> Result<(), OAuthError> {
    if app
        .store
        .recovered_at()
        .is_some_and(|recovered| grant.issued_at <= recovered)
    {
        return Err(OAuthError::invalid_grant(
            "the authorization code was issued before the provider recovered from a crash; sign in again",
        ));
    }
    Ok(())
}

async fn refresh(app: &Provider, client: &Client, form: &Params) -> Result<Response, OAuthError> {
    let presented = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let old_hash = token_hash(presented);
    let Some(old) = app.store.get_refresh_token(&old_hash).await? else {
        return Err(OAuthError::invalid_grant(
            "the refresh token is invalid, expired or revoked",
        ));
    };
    if old.client_id != client.client_id {
        return Err(OAuthError::invalid_grant(
            "the refresh token was issued to another client",
        ));
    }
    let scope = match form.get("scope") {
        None => old.scope.clone(),
        Some(asked) => {
            let granted: Vec<&str> = old.scope.split_whitespace().collect();
            if !asked.split_whitespace().all(|s| granted.contains(&s)) {
                return Err(OAuthError::new(
                    axum::http::StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "a refresh cannot widen the granted scope",
                ));
            }
            asked.split_whitespace().collect::<Vec<_>>().join(" ")
        }
    };
    let now = OffsetDateTime::now_utc();
    let g = Grant {
        client_id: client.client_id.clone(),
        scope,
        acr: old.acr.clone(),
        amr: old.amr.clone(),
        auth_time: old.auth_time,
        nonce: None,
    };
    let user = active_user(app, &old.uid, old.auth_time).await?;
    let (refresh, mut record) = new_refresh(app, &user.uid, &g, &old.family_id, now);
    // Rotation keeps the family's original lifetime: refreshing does not
    // extend a sign-in forever.
    record.expires_at = old.expires_at;
    match app
        .store
        .rotate_refresh_token(&old_hash, &token_hash(&refresh), &record)
        .await
    {
        Ok(_) => {}
        Err(StoreError::RefreshReuse { family_id }) => {
            let origin = Origin {
                ip: String::new(),
                user_agent: None,
            };
            audit::record(
                &*app.store,
                &origin,
                AuditAction::RefreshTokenReused,
                &old.uid,
                None,
                &[
                    ("client_id", client.client_id.as_str()),
                    ("family_id", family_id.as_str()),
                ],
            )
            .await;
            return Err(OAuthError::invalid_grant(
                "the refresh token was already used; the session is revoked",
            ));
        }
        Err(StoreError::NotFound { .. }) => {
            return Err(OAuthError::invalid_grant(
                "the refresh token is invalid, expired or revoked",
            ));
        }
        Err(e) => return Err(e.into()),
    }
    Ok(respond(app, &user, &g, refresh, now))
}

/// The grant's user, if still enabled and if the sign-in at `auth_time`
/// behind the grant still stands (see [`User::signed_in_since_reset`]).
async fn active_user(
    app: &Provider,
    uid: &str,
    auth_time: OffsetDateTime,
) -> Result<User, OAuthError> {
    match app.store.get_user(uid).await?.filter(|u| !u.disabled) {
        None => Err(OAuthError::invalid_grant(
            "the user no longer exists or is disabled",
        )),
        Some(u) if !u.signed_in_since_reset(auth_time.unix_timestamp()) => {
            Err(OAuthError::invalid_grant(
                "the sign-in behind this grant predates a reset of the account's authenticator apps",
            ))
        }
        Some(u) => Ok(u),
    }
}

fn new_refresh(
    app: &Provider,
    uid: &str,
    g: &Grant,
    family: &str,
    now: OffsetDateTime,
) -> (String, RefreshToken) {
    let token = random_token(32);
    let record = RefreshToken {
        family_id: family.to_owned(),
        uid: uid.to_owned(),
        client_id: g.client_id.clone(),
        scope: g.scope.clone(),
        acr: g.acr.clone(),
        amr: g.amr.clone(),
        auth_time: g.auth_time,
        issued_at: now,
        expires_at: now + Duration::seconds(app.config.tokens.refresh_token_secs as i64),
        used: false,
    };
    (token, record)
}

fn respond(
    app: &Provider,
    user: &User,
    g: &Grant,
    refresh: String,
    now: OffsetDateTime,
) -> Response {
    let (access, _) = tokens::access_token(app, user, g, now);
    let id_token = tokens::id_token(app, user, g, &access, now);
    let mut resp = Json(json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": app.config.tokens.access_token_secs,
        "refresh_token": refresh,
        "id_token": id_token,
        "scope": g.scope,
    }))
    .into_response();
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_verifier_rules_and_s256_match_rfc7636() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(valid_verifier(verifier));
        assert_eq!(
            sha256_b64url(verifier),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert!(!valid_verifier("short"));
        assert!(!valid_verifier(&"a".repeat(129)));
        assert!(!valid_verifier(&format!("{}!", "a".repeat(43))));
    }
}
