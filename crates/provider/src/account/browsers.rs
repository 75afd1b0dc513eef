//! Trusted browsers of the signed-in user: list, revoke one, revoke all.
//! Revoking one revokes only that one (a CAS defect revoked them all).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use tessera_api::{Problem, Removed, TrustedBrowser};

use super::ApiState;
use super::audit::{self, Change};
use super::auth::{Caller, StepUp};
use super::extract::ApiPath;
use super::openapi::responses::{StepUpOrUnauthorized, Unauthorized, Unavailable};
use super::problem::{ApiError, ApiResult};
use crate::store::{self, AuditAction};

pub fn to_wire(b: &store::TrustedBrowser) -> TrustedBrowser {
    TrustedBrowser {
        id: b.id.clone(),
        name: b.name.clone(),
        created_at: b.created_at,
        last_used_at: b.last_used_at,
        expires_at: b.expires_at,
    }
}

pub fn removed(n: u64) -> Removed {
    Removed {
        removed: u32::try_from(n).unwrap_or(u32::MAX),
    }
}

/// The browsers the user currently trusts, oldest first.
#[utoipa::path(get, path = "/api/v1/me/trusted-browsers", operation_id = "list_my_trusted_browsers", tag = "trusted browsers", security(("bearer" = [])),
    responses(
        (status = 200, description = "Unexpired trusted browsers", body = [TrustedBrowser]),
        (status = 401, response = inline(Unauthorized)),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn list(State(app): ApiState, caller: Caller) -> ApiResult<Json<Vec<TrustedBrowser>>> {
    let browsers = app.store.list_trusted_browsers(caller.uid()).await?;
    Ok(Json(browsers.iter().map(to_wire).collect()))
}

/// Revokes one trusted browser (step-up).
#[utoipa::path(delete, path = "/api/v1/me/trusted-browsers/{id}", operation_id = "revoke_my_trusted_browser", tag = "trusted browsers", security(("bearer" = [])),
    params(("id" = String, Path, description = "The trusted browser's id")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, response = inline(StepUpOrUnauthorized)),
        (status = 404, description = "No such trusted browser of this user", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn revoke(
    State(app): ApiState,
    StepUp(caller): StepUp,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let uid = caller.uid();
    let event = Change::new(&caller, AuditAction::BrowserRevoked, uid)
        .detail("browser_id", &id)
        .event();
    if !app.store.revoke_trusted_browser(uid, &id, &event).await? {
        return Err(ApiError::not_found("trusted browser"));
    }
    audit::logged(&event);
    Ok(StatusCode::NO_CONTENT)
}

/// Revokes every trusted browser of the user (step-up).
#[utoipa::path(delete, path = "/api/v1/me/trusted-browsers", operation_id = "revoke_all_my_trusted_browsers", tag = "trusted browsers", security(("bearer" = [])),
    responses(
        (status = 200, description = "How many were revoked", body = Removed),
        (status = 401, response = inline(StepUpOrUnauthorized)),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn revoke_all(State(app): ApiState, StepUp(caller): StepUp) -> ApiResult<Json<Removed>> {
    let uid = caller.uid();
    // The store adds how many went.
    let event = Change::new(&caller, AuditAction::BrowsersRevoked, uid).event();
    let n = app.store.revoke_all_trusted_browsers(uid, &event).await?;
    audit::logged(&event);
    Ok(Json(removed(n)))
}
