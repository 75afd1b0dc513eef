//! Who is calling: bearer access tokens (RFC 9068) checked on every request,
//! as axum extractors. A handler gets a user only through one of them, so a
//! route cannot forget authentication:
//!
//! - [`Caller`]: a valid access token of an enabled user ([`CallerDevices`]:
//!   the same, with the user's devices read in the same store call);
//! - [`StepUp`]: the same, signed in recently enough (RFC 9470) — for
//!   destructive self-service changes;
//! - [`Helpdesk`]: a caller with role `helpdesk` — help-desk reads;
//! - [`HelpdeskStepUp`]: both — every help-desk change.
//!
//! Roles and the disabled flag are read from the store on every request (not
//! from the token), so removing a role or disabling an account takes effect
//! at once.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use time::OffsetDateTime;

use super::problem::{ApiError, ApiResult};
use crate::audit::Origin;
use crate::state::{AppState, Provider};
use crate::store::{self, User};
use crate::tokens::{self, AccessClaims};
use crate::web;
use crate::web::BearerError;

/// An authenticated request: the token's claims, the user as stored now, and
/// where the request comes from (for the audit trail).
#[derive(Debug, Clone)]
pub struct Caller {
    pub user: User,
    /// Shared with the verified-token cache (not copied per request).
    pub claims: Arc<AccessClaims>,
    /// The client's address (`None` when the connection's is unknown).
    client_ip: Option<IpAddr>,
    user_agent: Option<HeaderValue>,
}

impl Caller {
    pub fn uid(&self) -> &str {
        &self.user.uid
    }

    /// Where the request comes from, as the audit trail records it; built
    /// only for the requests that record something (reads do not).
    pub fn origin(&self) -> Origin {
        Origin {
            ip: self
                .client_ip
                .map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
            user_agent: self.user_agent.as_ref().and_then(web::user_agent_text),
        }
    }

    /// When the sign-in behind the token happened.
    pub fn auth_time(&self) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(self.claims.auth_time)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH)
    }
}

/// A [`Caller`] and their devices, read with the authentication in one store
/// call: for the frequent reads that need the devices (list, overview).
#[derive(Debug, Clone)]
pub struct CallerDevices(pub Caller, pub Vec<store::Device>);

/// A caller whose sign-in is recent enough for a destructive change.
#[derive(Debug, Clone)]
pub struct StepUp(pub Caller);

/// A caller with role `helpdesk`.
#[derive(Debug, Clone)]
pub struct Helpdesk(pub Caller);

/// A help-desk caller whose sign-in is recent enough for a change.
#[derive(Debug, Clone)]
pub struct HelpdeskStepUp(pub Caller);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> ApiResult<Caller> {
        let token = bearer(&parts.headers)?;
        let (claims, user) = tokens::authenticate_bearer(app, token).await?;
        Caller::new(parts, app, claims, user)
    }
}

impl FromRequestParts<AppState> for CallerDevices {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> ApiResult<CallerDevices> {
        let token = bearer(&parts.headers)?;
        let (claims, user, devices) = tokens::authenticate_bearer_and_devices(app, token).await?;
        Ok(CallerDevices(
            Caller::new(parts, app, claims, user)?,
            devices,
        ))
    }
}

impl Caller {
    /// The caller behind verified `claims`, if its account is still enabled.
    fn new(
        parts: &Parts,
        app: &AppState,
        claims: Arc<AccessClaims>,
        user: Option<User>,
    ) -> ApiResult<Caller> {
        if !app.config.account_api_clients.contains(&claims.client_id) {
            return Err(ApiError::unauthorized(
                Some("invalid_token"),
                "This access token was issued to a client that may not use the account API.",
            ));
        }
        let user = match user {
            Some(u) if !u.disabled => u,
            _ => {
                return Err(ApiError::unauthorized(
                    Some("invalid_token"),
                    "The account behind this token no longer exists or is disabled.",
                ));
            }
        };
        let client_ip =
            parts
                .extensions
                .get::<ConnectInfo<SocketAddr>>()
                .map(|ConnectInfo(peer)| {
                    web::client_ip(*peer, &parts.headers, &app.config.trusted_proxies)
                });
        Ok(Caller {
            user,
            claims,
            client_ip,
            user_agent: parts.headers.get(header::USER_AGENT).cloned(),
        })
    }
}

impl FromRequestParts<AppState> for StepUp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> ApiResult<StepUp> {
        let caller = Caller::from_request_parts(parts, app).await?;
        require_recent(app, &caller, None).await?;
        Ok(StepUp(caller))
    }
}

impl FromRequestParts<AppState> for Helpdesk {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> ApiResult<Helpdesk> {
        let caller = Caller::from_request_parts(parts, app).await?;
        require_helpdesk(&caller)?;
        Ok(Helpdesk(caller))
    }
}

impl FromRequestParts<AppState> for HelpdeskStepUp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> ApiResult<HelpdeskStepUp> {
        let caller = Caller::from_request_parts(parts, app).await?;
        // The role first: stepping up would not help someone without it.
        require_helpdesk(&caller)?;
        require_recent_code(app, &caller).await?;
        Ok(HelpdeskStepUp(caller))
    }
}

fn require_helpdesk(caller: &Caller) -> ApiResult<()> {
    if caller.user.has_role(tessera_api::ROLE_HELPDESK) {
        Ok(())
    } else {
        Err(ApiError::forbidden(
            "This action is reserved to the help desk (role helpdesk).",
        ))
    }
}

/// RFC 9470 step-up: the sign-in must be at most `step_up_max_age` old, and —
/// for a user who has an authenticator — must have had a code typed in it
/// (`otp`: an authenticator's code or a recovery code). A remembered browser
/// ("mfa" without "otp") does not count: with it, a stolen laptop and a saved
/// password would be enough to enrol another app and delete the owner's.
/// `devices` are the caller's when the route already read them; otherwise
/// they are read, and only if the answer depends on them.
pub(super) async fn require_recent(
    app: &Provider,
    caller: &Caller,
    devices: Option<&[store::Device]>,
) -> ApiResult<()> {
    require_recent_sign_in(app, caller)?;
    if crate::acr::code_typed(&caller.claims.amr) {
        return Ok(());
    }
    let has_device = match devices {
        Some(devices) => !devices.is_empty(),
        None => !app.store.list_devices(caller.uid()).await?.is_empty(),
    };
    if has_device {
        return Err(step_up_with_code(app));
    }
    Ok(())
}

/// Like [`require_recent`], but a code is required whatever the caller's
/// devices: a help-desk change acts on other people's accounts, so an agent
/// whose own account has no authenticator (a client that waives 2FA) cannot
/// make one with a password alone.
async fn require_recent_code(app: &Provider, caller: &Caller) -> ApiResult<()> {
    require_recent_sign_in(app, caller)?;
    if crate::acr::code_typed(&caller.claims.amr) {
        return Ok(());
    }
    if app.store.list_devices(caller.uid()).await?.is_empty() {
        return Err(ApiError::forbidden(
            "Help-desk changes need an authenticator app on your own account: add one, then sign in with it.",
        ));
    }
    Err(step_up_with_code(app))
}

fn require_recent_sign_in(app: &Provider, caller: &Caller) -> ApiResult<()> {
    let max_age = app.config.step_up_max_age_secs;
    let age = OffsetDateTime::now_utc().unix_timestamp() - caller.claims.auth_time;
    if age > max_age as i64 {
        return Err(ApiError::step_up(
            format!(
                "This action needs a sign-in from the last {} minutes; sign in again and retry.",
                max_age.div_ceil(60)
            ),
            max_age,
            None,
        ));
    }
    Ok(())
}

fn step_up_with_code(app: &Provider) -> ApiError {
    let mfa_levels: Vec<&str> = app
        .config
        .acr
        .iter()
        .filter(|l| l.requires_mfa)
        .map(|l| l.value.as_str())
        .collect();
    ApiError::step_up(
        "This action needs a sign-in with your authenticator app; sign in again with a code and retry.",
        app.config.step_up_max_age_secs,
        (!mfa_levels.is_empty())
            .then(|| mfa_levels.join(" "))
            .as_deref(),
    )
}

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1).
fn bearer(headers: &HeaderMap) -> ApiResult<&str> {
    web::bearer_token(headers).map_err(|e| match e {
        BearerError::Missing => ApiError::unauthorized(None, "A bearer access token is required."),
        BearerError::Malformed => ApiError::unauthorized(
            Some("invalid_request"),
            "The Authorization header is malformed.",
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::header;

    #[test]
    fn bearer_header_is_parsed_strictly() {
        let mut h = HeaderMap::new();
        assert_eq!(
            bearer(&h).unwrap_err().code,
            tessera_api::ErrorCode::Unauthorized
        );
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert!(bearer(&h).is_err());
        h.insert(header::AUTHORIZATION, "Bearer ".parse().unwrap());
        assert!(bearer(&h).is_err());
        h.insert(header::AUTHORIZATION, "bearer a.b.c".parse().unwrap());
        assert_eq!(bearer(&h).unwrap(), "a.b.c");
        let challenge = ApiError::unauthorized(None, "x").challenge.unwrap();
        assert_eq!(
            challenge, r#"Bearer realm="tessera""#,
            "no error code without credentials (RFC 6750 §3.1)"
        );
    }
}
