//! `GET /api/v1/me` and `GET /api/v1/me/activity`.

use axum::Json;
use axum::extract::State;
use tessera_api::{ActivityPage, ActivityQuery, Me, Problem};

use super::auth::{Caller, CallerDevices};
use super::extract::ApiQuery;
use super::openapi::responses::{Unauthorized, Unavailable};
use super::problem::ApiResult;
use super::{ApiState, activity, count, must_use_second_factor};

/// Who the bearer is, how they signed in, and the state of their factors.
#[utoipa::path(get, path = "/api/v1/me", operation_id = "get_me", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, description = "The signed-in user", body = Me),
        (status = 401, response = inline(Unauthorized)),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn me(
    State(app): ApiState,
    CallerDevices(caller, devices): CallerDevices,
) -> ApiResult<Json<Me>> {
    let uid = caller.uid();
    let user = &caller.user;
    Ok(Json(Me {
        uid: uid.to_owned(),
        name: user.display_name.clone(),
        email: Some(user.email.clone()).filter(|e| !e.is_empty()),
        roles: user.roles.iter().cloned().collect(),
        acr: caller.claims.acr.clone().unwrap_or_default(),
        amr: caller.claims.amr.clone(),
        auth_time: caller.auth_time(),
        mfa_required: must_use_second_factor(&app, user, &caller.claims.client_id).await?,
        device_count: count(devices.len() as u64),
        recovery_codes_left: count(app.store.count_recovery_codes(uid).await?),
        trusted_browser_count: count(app.store.list_trusted_browsers(uid).await?.len() as u64),
    }))
}

/// The user's own security activity, newest first.
#[utoipa::path(get, path = "/api/v1/me/activity", operation_id = "list_my_activity", tag = "me", security(("bearer" = [])),
    params(ActivityQuery),
    responses(
        (status = 200, description = "A page of events, newest first", body = ActivityPage),
        (status = 400, description = "Invalid cursor or limit", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = inline(Unauthorized)),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn my_activity(
    State(app): ApiState,
    caller: Caller,
    ApiQuery(query): ApiQuery<ActivityQuery>,
) -> ApiResult<Json<ActivityPage>> {
    Ok(Json(activity::page(&app, caller.uid(), &query).await?))
}
