//! Authenticator apps of the signed-in user: list, two-step enrolment
//! (start, then confirm with a code), rename, delete.
//!
//! The confirming code is checked but NOT recorded as used
//! (`Store::mark_code_used`): the pending enrolment is consumed atomically by
//! `confirm_enrollment`, so the code cannot confirm anything twice, and
//! leaving it unmarked means the user's next sign-in accepts the code the app
//! shows right now instead of making them wait 30 seconds for the next one
//! (the CAS defect). The sign-in path marks codes as usual, so that code can
//! still sign in only once.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tessera_api::{
    Device, DeviceRename, EnrollmentConfirm, EnrollmentConfirmed, EnrollmentStart,
    EnrollmentStarted, ErrorCode, Problem, SecretText, normalize_device_name,
};
use time::OffsetDateTime;

use super::audit::{self, Change};
use super::auth::{Caller, CallerDevices, StepUp, require_recent};
use super::extract::{ApiJson, ApiPath};
use super::openapi::responses::{StepUpOrUnauthorized, Unauthorized, Unavailable};
use super::problem::{ApiError, ApiResult, sentence};
use super::{ApiState, must_use_second_factor};
use crate::crypto::random_token;
use crate::state::Provider;
use crate::store::{
    self, AuditAction, DeviceDeletion, EncryptedSecret, FirstDeviceCodes, PendingEnrollment,
    StoreError,
};
use crate::{recovery, totp};

/// How long a started enrolment waits for its confirming code.
pub const ENROLLMENT_TTL_SECS: i64 = 10 * 60;
/// Enrolments a user may start per rate-limit window.
const ENROLLMENT_STARTS_PER_WINDOW: u64 = 20;

/// The wire form of a stored device (its strings moved, not copied: this
/// runs for every device of every list).
pub fn to_wire(d: store::Device) -> Device {
    Device {
        id: d.id,
        name: d.name,
        registered_at: d.registered_at,
        last_used_at: d.last_used_at,
    }
}

/// The user's authenticator apps, oldest first.
#[utoipa::path(get, path = "/api/v1/me/devices", operation_id = "list_my_devices", tag = "devices", security(("bearer" = [])),
    responses(
        (status = 200, description = "The user's authenticator apps, oldest first", body = [Device]),
        (status = 401, response = inline(Unauthorized)),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn list(CallerDevices(_, devices): CallerDevices) -> ApiResult<Json<Vec<Device>>> {
    Ok(Json(devices.into_iter().map(to_wire).collect()))
}

/// Starts an enrolment: a new secret, its `otpauth://` URI and an expiry.
/// Nothing is a device until the enrolment is confirmed.
///
/// An account that has a device needs a recent sign-in with it (step-up),
/// as for deleting one: otherwise whoever holds a session or a refresh
/// token (a stolen laptop) could add an app of their own and keep a second
/// factor after the user changes the password. A first device needs none:
/// the account has no factor to prove yet.
#[utoipa::path(post, path = "/api/v1/me/devices", operation_id = "start_enrollment", tag = "devices", security(("bearer" = [])),
    request_body = EnrollmentStart,
    responses(
        (status = 201, description = "Pending enrolment", body = EnrollmentStarted),
        (status = 400, description = "Invalid name", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = inline(StepUpOrUnauthorized)),
        (status = 409, description = "The account has the most authenticator apps allowed (`too_many_devices`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many enrolments started", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn start_enrollment(
    State(app): ApiState,
    CallerDevices(caller, devices): CallerDevices,
    ApiJson(body): ApiJson<EnrollmentStart>,
) -> ApiResult<Response> {
    let name = normalize_device_name(&body.name)
        .map_err(|e| ApiError::bad_request(sentence(&e.to_string())))?;
    if !devices.is_empty() {
        require_recent(&app, &caller, Some(&devices)).await?;
    }
    // Checked again, atomically, at the confirmation; refused here first so
    // that nobody scans a code they cannot use.
    let max_devices = app.config.max_devices_per_user;
    if devices.len() >= max_devices as usize {
        return Err(ApiError::too_many_devices(max_devices));
    }
    let uid = caller.uid();
    let limits = &app.config.rate_limit;
    let start_key = format!("account:enroll-start:{uid}");
    let starts = app
        .store
        .rate_limit_hit(&start_key, Duration::from_secs(limits.window_secs))
        .await?;
    if starts > ENROLLMENT_STARTS_PER_WINDOW {
        return Err(rate_limited(&app, &start_key, "Too many enrolments started").await);
    }
    let now = OffsetDateTime::now_utc();
    let expires_at = now + time::Duration::seconds(ENROLLMENT_TTL_SECS);
    let secret = totp::new_secret();
    let pending = PendingEnrollment {
        id: enrollment_id(expires_at),
        uid: uid.to_owned(),
        name: name.clone(),
        secret: EncryptedSecret(app.secret_key.seal(&secret, uid)),
        created_at: now,
        expires_at,
    };
    app.store.put_pending_enrollment(&pending).await?;
    audit::record(
        &app,
        Change::new(&caller, AuditAction::EnrollmentStarted, uid)
            .detail("enrollment_id", &pending.id)
            .detail("name", &name),
    )
    .await;
    let started = EnrollmentStarted {
        enrollment_id: pending.id,
        name,
        secret: SecretText::new(totp::base32(&secret)),
        otpauth_uri: SecretText::new(totp::otpauth_uri(&secret, &app.config.totp_issuer, uid)),
        expires_at,
    };
    Ok((StatusCode::CREATED, Json(started)).into_response())
}

/// Confirms an enrolment with the current code of the new app: the device is
/// stored (atomically with the end of the pending enrolment) and returned,
/// with recovery codes when it is the user's first device.
#[utoipa::path(post, path = "/api/v1/me/devices/enrollments/{id}/confirm", operation_id = "confirm_enrollment", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path, description = "The pending enrolment's id")),
    request_body = EnrollmentConfirm,
    responses(
        (status = 201, description = "The stored device (and recovery codes on a first device)", body = EnrollmentConfirmed),
        (status = 400, description = "Wrong code (`invalid_code`) or malformed body", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = inline(Unauthorized)),
        (status = 404, description = "No such pending enrolment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The account has the most authenticator apps allowed (`too_many_devices`); the enrolment is kept", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "The enrolment expired (`enrollment_expired`)", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "Too many wrong codes", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn confirm_enrollment(
    State(app): ApiState,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<EnrollmentConfirm>,
) -> ApiResult<Response> {
    let uid = caller.uid();
    let limits = &app.config.rate_limit;
    let failures_key = format!("account:confirm-failures:{uid}");
    // Counted before the code is checked, as a sign-in's attempt is, so that
    // concurrent wrong codes cannot all pass a check made before any failed.
    if limits
        .count_account_attempt(&*app.store, &failures_key)
        .await?
        .is_none()
    {
        return Err(rate_limited(&app, &failures_key, "Too many wrong codes").await);
    }
    let now = OffsetDateTime::now_utc();
    match enrollment_code_matches(&app, uid, &id, body.code.expose().trim(), now).await {
        Ok(true) => app.store.rate_limit_reset(&failures_key).await?,
        // A wrong code stays counted.
        Ok(false) => {
            audit::record(
                &app,
                Change::new(&caller, AuditAction::SecondFactorFailed, uid)
                    .detail("enrollment_id", &id)
                    .detail("reason", "wrong_enrollment_code"),
            )
            .await;
            return Err(ApiError::new(
                ErrorCode::InvalidCode,
                "The code does not match; type the 6-digit code your authenticator app shows now.",
            ));
        }
        // Nothing was checked: not counted.
        Err(refusal) => {
            app.store.rate_limit_release(&[&failures_key]).await?;
            return Err(refusal);
        }
    }

    // A first device gets recovery codes, stored in the same atomic step as
    // the device (never a device without its codes), and "first" is decided
    // there too: of two confirmations at once, even on two provider
    // instances, only one sets and shows codes. Drawing a set that is not
    // used costs ten random draws and hashes.
    let (codes, hashes) = recovery::generate(&app.secret_key, uid);
    // The store names the device in the confirmation's event.
    let confirmation = Change::new(&caller, AuditAction::EnrollmentConfirmed, uid).event();
    let codes_event = Change::new(&caller, AuditAction::RecoveryCodesRegenerated, uid)
        .detail("during", "first_enrollment")
        .event();
    let first_device_codes = FirstDeviceCodes {
        hashes: &hashes,
        audit: &codes_event,
    };
    let confirmed = match app
        .store
        .confirm_enrollment(
            uid,
            &id,
            now,
            app.config.max_devices_per_user,
            Some(first_device_codes),
            &confirmation,
        )
        .await
    {
        Ok(confirmed) => confirmed,
        Err(StoreError::NotFound { .. }) => return Err(missing_enrollment(&id, now)),
        Err(e) => return Err(e.into()),
    };
    let device = confirmed.device;
    let recovery_codes = confirmed.first_device.then_some(codes);
    audit::logged(&confirmation);
    if recovery_codes.is_some() {
        audit::logged(&codes_event);
    }
    let recovery_codes = recovery_codes.map(|codes| {
        codes
            .iter()
            .map(|c| SecretText::new(secrecy::ExposeSecret::expose_secret(c)))
            .collect()
    });
    let confirmed = EnrollmentConfirmed {
        device: to_wire(device),
        recovery_codes,
    };
    Ok((StatusCode::CREATED, Json(confirmed)).into_response())
}

/// Whether `code` is a current code of the pending enrolment's secret;
/// refused when there is no such enrolment (any more).
async fn enrollment_code_matches(
    app: &Provider,
    uid: &str,
    id: &str,
    code: &str,
    now: OffsetDateTime,
) -> ApiResult<bool> {
    let Some(pending) = app.store.get_pending_enrollment(uid, id).await? else {
        return Err(missing_enrollment(id, now));
    };
    let secret = app.secret_key.open(&pending.secret.0, uid).map_err(|_| {
        tracing::error!(uid, enrollment = %pending.id, "pending enrolment secret does not decrypt");
        ApiError::new(ErrorCode::Internal, "An internal error occurred.")
    })?;
    let unix = now.unix_timestamp().max(0) as u64;
    Ok(totp::matching_step(secrecy::ExposeSecret::expose_secret(&secret), code, unix).is_some())
}

/// Renames a device (in place; it is never duplicated).
#[utoipa::path(patch, path = "/api/v1/me/devices/{id}", operation_id = "rename_my_device", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path, description = "The device's id")),
    request_body = DeviceRename,
    responses(
        (status = 200, description = "The renamed device", body = Device),
        (status = 400, description = "Invalid name", body = Problem, content_type = "application/problem+json"),
        (status = 401, response = inline(Unauthorized)),
        (status = 404, description = "No such device of this user", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn rename(
    State(app): ApiState,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiJson(body): ApiJson<DeviceRename>,
) -> ApiResult<Json<Device>> {
    let name = normalize_device_name(&body.name)
        .map_err(|e| ApiError::bad_request(sentence(&e.to_string())))?;
    let uid = caller.uid();
    let Some(before) = app.store.get_device(uid, &id).await? else {
        return Err(ApiError::not_found("device"));
    };
    let device = app.store.rename_device(uid, &id, &name).await?;
    audit::record(
        &app,
        Change::new(&caller, AuditAction::DeviceRenamed, uid)
            .detail("device_id", &id)
            .detail("old_name", &before.name)
            .detail("name", &name),
    )
    .await;
    Ok(Json(to_wire(device)))
}

/// Deletes one of the user's devices (step-up). The last device of a user
/// who must use a second factor cannot be deleted (`last_factor`).
#[utoipa::path(delete, path = "/api/v1/me/devices/{id}", operation_id = "delete_my_device", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path, description = "The device's id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, response = inline(StepUpOrUnauthorized)),
        (status = 404, description = "No such device of this user", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The user's last authenticator (`last_factor`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, response = inline(Unavailable)),
    ))]
pub async fn delete(
    State(app): ApiState,
    StepUp(caller): StepUp,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let uid = caller.uid();
    let Some(device) = app.store.get_device(uid, &id).await? else {
        return Err(ApiError::not_found("device"));
    };
    // The store decides "last device" and deletes in one atomic step, so two
    // concurrent deletes of a user's last two devices cannot both pass,
    // whatever the number of provider instances.
    let event = Change::new(&caller, AuditAction::DeviceDeleted, uid)
        .detail("device_id", &id)
        .detail("name", &device.name)
        .event();
    let outcome = if must_use_second_factor(&app, &caller.user, &caller.claims.client_id).await? {
        app.store
            .delete_device_unless_last(uid, &id, &event)
            .await?
    } else if app.store.delete_device(uid, &id, &event).await? {
        DeviceDeletion::Deleted
    } else {
        DeviceDeletion::NotFound
    };
    match outcome {
        DeviceDeletion::Deleted => {}
        DeviceDeletion::NotFound => return Err(ApiError::not_found("device")),
        DeviceDeletion::LastDevice => {
            return Err(ApiError::new(
                ErrorCode::LastFactor,
                "This is your only authenticator app and your account requires one: add another app first, \
                 or ask the help desk to reset your authenticators.",
            ));
        }
    }
    audit::logged(&event);
    Ok(StatusCode::NO_CONTENT)
}

/// `rate_limited`, saying how long the window still runs.
async fn rate_limited(app: &Provider, key: &str, what: &str) -> ApiError {
    let secs = match app.store.rate_limit_ttl(key).await {
        Ok(Some(left)) => left.as_secs(),
        _ => app.config.rate_limit.window_secs,
    };
    ApiError {
        retry_after: Some(secs.max(1)),
        ..ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "{what}; try again in {} minute(s).",
                secs.div_ceil(60).max(1)
            ),
        )
    }
}

/// `<random>.<expiry unix time>`: the expiry in the id lets a confirm that
/// comes too late say `enrollment_expired` instead of `not_found` although
/// the store has forgotten the enrolment. The random part makes ids
/// unguessable; a forged expiry only changes which error is answered.
fn enrollment_id(expires_at: OffsetDateTime) -> String {
    format!("{}.{}", random_token(16), expires_at.unix_timestamp())
}

fn missing_enrollment(id: &str, now: OffsetDateTime) -> ApiError {
    let expired = id
        .rsplit_once('.')
        .and_then(|(_, exp)| exp.parse::<i64>().ok())
        .is_some_and(|exp| exp <= now.unix_timestamp());
    if expired {
        ApiError::new(
            ErrorCode::EnrollmentExpired,
            "This enrolment has expired; start again to get a new QR code.",
        )
    } else {
        ApiError::new(
            ErrorCode::NotFound,
            "No such pending enrolment (it may have been confirmed already); start again.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enrollment_ids_say_when_they_expire() {
        let now = OffsetDateTime::now_utc();
        let id = enrollment_id(now + time::Duration::seconds(600));
        assert_eq!(missing_enrollment(&id, now).code, ErrorCode::NotFound);
        assert_eq!(
            missing_enrollment(&id, now + time::Duration::seconds(601)).code,
            ErrorCode::EnrollmentExpired
        );
        assert_eq!(missing_enrollment("garbage", now).code, ErrorCode::NotFound);
        assert_ne!(enrollment_id(now), enrollment_id(now));
    }
}
