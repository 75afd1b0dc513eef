//! Help-desk routes (`/api/v1/users…`): role `helpdesk` on every route;
//! step-up and a non-empty reason on every change. The help desk can remove
//! a user's devices and trusted browsers but never enrol anything for them,
//! and uses the self-service routes for its own account.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tessera_api::helpdesk::USER_SEARCH_MAX;
use tessera_api::{
    ActivityPage, ActivityQuery, Device, HelpdeskChange, Problem, Removed, TrustedBrowser,
    UserSearchQuery, UserSearchResults, UserSummary,
};
use time::OffsetDateTime;

use super::audit::{self, Change};
use super::auth::{Caller, Helpdesk, HelpdeskStepUp};
use super::extract::{ApiJson, ApiPath, ApiQuery};
use super::openapi::responses::{
    Forbidden, MissingReason, StepUpOrUnauthorized, Unauthorized, Unavailable,
};
use super::problem::{ApiError, ApiResult, sentence};
use super::{ApiState, activity, browsers, count, devices, must_use_second_factor};
use crate::state::Provider;
use crate::store::{AuditAction, User};

async fn existing_user(app: &Provider, uid: &str) -> ApiResult<User> {
    app.store
        .get_user(uid)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))
}

/// The checked reason of a change to an existing user.
async fn change_target(
    app: &Provider,
    caller: &Caller,
    uid: &str,
    body: HelpdeskChange,
) -> ApiResult<String> {
    let reason = body
        .validated()
        .map_err(|e| ApiError::bad_request(sentence(&e.to_string())))?;
    if uid == caller.uid() {
        return Err(ApiError::forbidden(
            "Use the self-service routes (/api/v1/me/…) for your own account.",
        ));
    }
    existing_user(app, uid).await?;
    Ok(reason.reason)
}

/// Prefix search on uid, email and name. The store walks its prefix index
/// in order and stops at `limit` users: the work grows with the limit, not
/// with how many users a one-letter query matches.
#[utoipa::path(get, path = "/api/v1/users", operation_id = "search_users", tag = "help desk", security(("bearer" = [])),
    params(UserSearchQuery),
    responses(
        (status = 200, description = "Matching users, each once, best match first: in the alphabetical order of the first uid, email or name word of theirs that the query starts", body = UserSearchResults),
        (status = 400, description = "Empty query or invalid limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = inline(Unauthorized)),
        (status = 403, response = inline(Forbidden)),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn search(
    State(app): ApiState,
    Helpdesk(caller): Helpdesk,
    ApiQuery(query): ApiQuery<UserSearchQuery>,
) -> ApiResult<Json<UserSearchResults>> {
    let q = query.q.trim();
    if q.is_empty() {
        return Err(ApiError::bad_request(
            "Type the beginning of a uid, email or name (q).",
        ));
    }
    let limit = query.limit.unwrap_or(20);
    if limit == 0 || limit > USER_SEARCH_MAX {
        return Err(ApiError::bad_request(format!(
            "limit must be between 1 and {USER_SEARCH_MAX}."
        )));
    }
    let mut found = app.store.search_users(q, limit as usize + 1).await?;
    let truncated = found.len() > limit as usize;
    found.truncate(limit as usize);
    // Each user's summary needs three reads; all of them at once, so that a
    // page of 50 costs a few round trips to a remote Redis, not 150.
    let client_id = caller.claims.client_id.as_str();
    let users = futures_util::future::try_join_all(
        found.into_iter().map(|user| summary(&app, user, client_id)),
    )
    .await?;
    Ok(Json(UserSearchResults { users, truncated }))
}

/// What the search lists of one user.
async fn summary(app: &Provider, user: User, client_id: &str) -> ApiResult<UserSummary> {
    let (mfa_required, devices, browsers) = tokio::try_join!(
        must_use_second_factor(app, &user, client_id),
        app.store.list_devices(&user.uid),
        app.store.list_trusted_browsers(&user.uid),
    )?;
    Ok(UserSummary {
        mfa_required,
        device_count: count(devices.len() as u64),
        trusted_browser_count: count(browsers.len() as u64),
        email: Some(user.email).filter(|e| !e.is_empty()),
        name: user.display_name,
        roles: user.roles.into_iter().collect(),
        uid: user.uid,
    })
}

/// A user's authenticator apps.
#[utoipa::path(get, path = "/api/v1/users/{uid}/devices", operation_id = "list_user_devices", tag = "help desk", security(("bearer" = [])),
    params(("uid" = String, Path, description = "The user's uid")),
    responses(
        (status = 200, description = "The user's authenticator apps", body = [Device]),
        (status = 401, response = inline(Unauthorized)),
        (status = 403, response = inline(Forbidden)),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn user_devices(
    State(app): ApiState,
    Helpdesk(_caller): Helpdesk,
    ApiPath(uid): ApiPath<String>,
) -> ApiResult<Json<Vec<Device>>> {
    existing_user(&app, &uid).await?;
    Ok(Json(
        app.store
            .list_devices(&uid)
            .await?
            .into_iter()
            .map(devices::to_wire)
            .collect(),
    ))
}

/// Removes one of a user's devices (step-up, reason). The last one may go:
/// the user then enrols again at their next sign-in.
#[utoipa::path(delete, path = "/api/v1/users/{uid}/devices/{id}", operation_id = "remove_user_device", tag = "help desk", security(("bearer" = [])),
    params(("uid" = String, Path, description = "The user's uid"), ("id" = String, Path, description = "The device's id")),
    request_body = HelpdeskChange,
    responses(
        (status = 204, description = "Removed"),
        (status = 400, response = inline(MissingReason)),
        (status = 401, response = inline(StepUpOrUnauthorized)),
        (status = 403, response = inline(Forbidden)),
        (status = 404, description = "No such user, or no such device of this user", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn remove_device(
    State(app): ApiState,
    HelpdeskStepUp(caller): HelpdeskStepUp,
    ApiPath((uid, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<HelpdeskChange>,
) -> ApiResult<StatusCode> {
    let reason = change_target(&app, &caller, &uid, body).await?;
    let Some(device) = app.store.get_device(&uid, &id).await? else {
        return Err(ApiError::not_found("device"));
    };
    let event = Change::new(&caller, AuditAction::DeviceDeleted, &uid)
        .reason(&reason)
        .detail("device_id", &id)
        .detail("name", &device.name)
        .event();
    if !app.store.delete_device(&uid, &id, &event).await? {
        return Err(ApiError::not_found("device"));
    }
    audit::logged(&event);
    Ok(StatusCode::NO_CONTENT)
}

/// Resets a user's second factor (step-up, reason): every device, the
/// recovery codes and the trusted browsers are removed, and what earlier
/// sign-ins proved (browser sessions, access and refresh tokens) no longer
/// counts; the user signs in again and enrols.
#[utoipa::path(delete, path = "/api/v1/users/{uid}/devices", operation_id = "reset_user_devices", tag = "help desk", security(("bearer" = [])),
    params(("uid" = String, Path, description = "The user's uid")),
    request_body = HelpdeskChange,
    responses(
        (status = 200, description = "How many devices were removed", body = Removed),
        (status = 400, response = inline(MissingReason)),
        (status = 401, response = inline(StepUpOrUnauthorized)),
        (status = 403, response = inline(Forbidden)),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn reset_devices(
    State(app): ApiState,
    HelpdeskStepUp(caller): HelpdeskStepUp,
    ApiPath(uid): ApiPath<String>,
    ApiJson(body): ApiJson<HelpdeskChange>,
) -> ApiResult<Json<Removed>> {
    let reason = change_target(&app, &caller, &uid, body).await?;
    // The store adds how many devices and browsers went.
    let event = Change::new(&caller, AuditAction::DevicesReset, &uid)
        .reason(&reason)
        .event();
    let reset = app
        .store
        .reset_devices(&uid, OffsetDateTime::now_utc(), &event)
        .await?;
    audit::logged(&event);
    Ok(Json(browsers::removed(reset.devices)))
}

/// A user's trusted browsers.
#[utoipa::path(get, path = "/api/v1/users/{uid}/trusted-browsers", operation_id = "list_user_trusted_browsers", tag = "help desk", security(("bearer" = [])),
    params(("uid" = String, Path, description = "The user's uid")),
    responses(
        (status = 200, description = "The user's unexpired trusted browsers", body = [TrustedBrowser]),
        (status = 401, response = inline(Unauthorized)),
        (status = 403, response = inline(Forbidden)),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn user_browsers(
    State(app): ApiState,
    Helpdesk(_caller): Helpdesk,
    ApiPath(uid): ApiPath<String>,
) -> ApiResult<Json<Vec<TrustedBrowser>>> {
    existing_user(&app, &uid).await?;
    Ok(Json(
        app.store
            .list_trusted_browsers(&uid)
            .await?
            .iter()
            .map(browsers::to_wire)
            .collect(),
    ))
}

/// Revokes one of a user's trusted browsers (step-up, reason).
#[utoipa::path(delete, path = "/api/v1/users/{uid}/trusted-browsers/{id}", operation_id = "revoke_user_trusted_browser", tag = "help desk", security(("bearer" = [])),
    params(("uid" = String, Path, description = "The user's uid"), ("id" = String, Path, description = "The trusted browser's id")),
    request_body = HelpdeskChange,
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, response = inline(MissingReason)),
        (status = 401, response = inline(StepUpOrUnauthorized)),
        (status = 403, response = inline(Forbidden)),
        (status = 404, description = "No such user, or no such browser of this user", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn revoke_browser(
    State(app): ApiState,
    HelpdeskStepUp(caller): HelpdeskStepUp,
    ApiPath((uid, id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<HelpdeskChange>,
) -> ApiResult<StatusCode> {
    let reason = change_target(&app, &caller, &uid, body).await?;
    let event = Change::new(&caller, AuditAction::BrowserRevoked, &uid)
        .reason(&reason)
        .detail("browser_id", &id)
        .event();
    if !app.store.revoke_trusted_browser(&uid, &id, &event).await? {
        return Err(ApiError::not_found("trusted browser"));
    }
    audit::logged(&event);
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes every trusted browser of a user (step-up, reason).
#[utoipa::path(delete, path = "/api/v1/users/{uid}/trusted-browsers", operation_id = "revoke_user_trusted_browsers", tag = "help desk", security(("bearer" = [])),
    params(("uid" = String, Path, description = "The user's uid")),
    request_body = HelpdeskChange,
    responses(
        (status = 200, description = "How many were revoked", body = Removed),
        (status = 400, response = inline(MissingReason)),
        (status = 401, response = inline(StepUpOrUnauthorized)),
        (status = 403, response = inline(Forbidden)),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn revoke_browsers(
    State(app): ApiState,
    HelpdeskStepUp(caller): HelpdeskStepUp,
    ApiPath(uid): ApiPath<String>,
    ApiJson(body): ApiJson<HelpdeskChange>,
) -> ApiResult<Json<Removed>> {
    let reason = change_target(&app, &caller, &uid, body).await?;
    // The store adds how many went.
    let event = Change::new(&caller, AuditAction::BrowsersRevoked, &uid)
        .reason(&reason)
        .event();
    let n = app.store.revoke_all_trusted_browsers(&uid, &event).await?;
    audit::logged(&event);
    Ok(Json(browsers::removed(n)))
}

/// A user's security activity, newest first.
#[utoipa::path(get, path = "/api/v1/users/{uid}/activity", operation_id = "list_user_activity", tag = "help desk", security(("bearer" = [])),
    params(("uid" = String, Path, description = "The user's uid"), ActivityQuery),
    responses(
        (status = 200, description = "A page of events, newest first", body = ActivityPage),
        (status = 400, description = "Invalid cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = inline(Unauthorized)),
        (status = 403, response = inline(Forbidden)),
        (status = 404, description = "No such user", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn user_activity(
    State(app): ApiState,
    Helpdesk(_caller): Helpdesk,
    ApiPath(uid): ApiPath<String>,
    ApiQuery(query): ApiQuery<ActivityQuery>,
) -> ApiResult<Json<ActivityPage>> {
    existing_user(&app, &uid).await?;
    Ok(Json(activity::page(&app, &uid, &query).await?))
}
