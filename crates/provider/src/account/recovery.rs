//! `POST /api/v1/me/recovery-codes`: a fresh set of recovery codes (the
//! previous set is void), shown once.

use axum::Json;
use axum::extract::State;
use tessera_api::{ErrorCode, Problem, RecoveryCodes, SecretText};
use time::OffsetDateTime;

use super::ApiState;
use super::audit::{self, Change};
use super::auth::StepUp;
use super::openapi::responses::{StepUpOrUnauthorized, Unavailable};
use super::problem::{ApiError, ApiResult};
use crate::store::AuditAction;

/// Regenerates the user's recovery codes (step-up). Refused while the user
/// has no authenticator: recovery codes stand in for one.
#[utoipa::path(post, path = "/api/v1/me/recovery-codes", operation_id = "regenerate_recovery_codes", tag = "recovery codes", security(("bearer" = [])),
    responses(
        (status = 200, description = "The new codes, shown once", body = RecoveryCodes),
        (status = 401, response = inline(StepUpOrUnauthorized)),
        (status = 409, description = "No authenticator enrolled yet", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn regenerate(
    State(app): ApiState,
    StepUp(caller): StepUp,
) -> ApiResult<Json<RecoveryCodes>> {
    let uid = caller.uid();
    if app.store.list_devices(uid).await?.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "Recovery codes back up an authenticator app: enrol one first.",
        ));
    }
    let event = Change::new(&caller, AuditAction::RecoveryCodesRegenerated, uid).event();
    let codes = crate::recovery::regenerate(&*app.store, &app.secret_key, uid, &event).await?;
    audit::logged(&event);
    Ok(Json(RecoveryCodes {
        codes: codes
            .iter()
            .map(|c| SecretText::new(secrecy::ExposeSecret::expose_secret(c)))
            .collect(),
        generated_at: OffsetDateTime::now_utc(),
    }))
}
