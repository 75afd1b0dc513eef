//! Wire types of the Tessera account API.
//!
//! This crate is the single place where the JSON exchanged between the
//! provider's account API and its clients is declared. It performs no I/O and
//! never depends on Tauri, axum or an HTTP client, so that the provider, the
//! client core, the CLI and the desktop shell can all share it.
//!
//! Features: `openapi` derives `utoipa::ToSchema` (the provider's served
//! OpenAPI document), `specta` derives `specta::Type` (the desktop's generated
//! TypeScript bindings). Timestamps are RFC 3339 strings on the wire.
//!
//! | Route | Request | Response |
//! |---|---|---|
//! | `GET /api/v1/me` | | [`Me`] |
//! | `GET /api/v1/me/devices` | | `[`[`Device`]`]` |
//! | `POST /api/v1/me/devices` | [`EnrollmentStart`] | [`EnrollmentStarted`] (201; `too_many_devices`) |
//! | `POST /api/v1/me/devices/enrollments/{id}/confirm` | [`EnrollmentConfirm`] | [`EnrollmentConfirmed`] (201; `too_many_devices`) |
//! | `PATCH /api/v1/me/devices/{id}` | [`DeviceRename`] | [`Device`] |
//! | `DELETE /api/v1/me/devices/{id}` | | 204 (step-up; `last_factor`) |
//! | `GET /api/v1/me/trusted-browsers` | | `[`[`TrustedBrowser`]`]` |
//! | `DELETE /api/v1/me/trusted-browsers/{id}` | | 204 |
//! | `DELETE /api/v1/me/trusted-browsers` | | [`Removed`] |
//! | `POST /api/v1/me/recovery-codes` | | [`RecoveryCodes`] (step-up) |
//! | `GET /api/v1/me/activity?cursor=&limit=` | [`ActivityQuery`] | [`ActivityPage`] |
//! | `GET /api/v1/users?q=&limit=` | [`UserSearchQuery`] | [`UserSearchResults`] |
//! | `GET /api/v1/users/{uid}/devices` | | `[`[`Device`]`]` |
//! | `DELETE /api/v1/users/{uid}/devices/{id}` | [`HelpdeskChange`] | 204 |
//! | `DELETE /api/v1/users/{uid}/devices` | [`HelpdeskChange`] | [`Removed`] |
//! | `GET /api/v1/users/{uid}/trusted-browsers` | | `[`[`TrustedBrowser`]`]` |
//! | `DELETE /api/v1/users/{uid}/trusted-browsers/{id}` | [`HelpdeskChange`] | 204 |
//! | `DELETE /api/v1/users/{uid}/trusted-browsers` | [`HelpdeskChange`] | [`Removed`] |
//! | `GET /api/v1/users/{uid}/activity?cursor=&limit=` | [`ActivityQuery`] | [`ActivityPage`] |
//!
//! Every error is a [`Problem`] (`application/problem+json`). A route that
//! needs a more recent or stronger sign-in answers 401 with code
//! `step_up_required` and `WWW-Authenticate: Bearer
//! error="insufficient_user_authentication", max_age=…` (RFC 9470).

pub mod activity;
pub mod browsers;
pub mod devices;
pub mod helpdesk;
pub mod me;
pub mod otpauth;
pub mod paths;
pub mod problem;
pub mod secret;

pub use activity::{ActivityPage, ActivityQuery, AuditAction, AuditEvent};
pub use browsers::{RecoveryCodes, Removed, TrustedBrowser};
pub use devices::{
    Device, DeviceNameError, DeviceRename, EnrollmentConfirm, EnrollmentConfirmed, EnrollmentStart,
    EnrollmentStarted, normalize_device_name,
};
pub use helpdesk::{HelpdeskChange, ReasonError, UserSearchQuery, UserSearchResults, UserSummary};
pub use me::{Me, ROLE_HELPDESK};
pub use otpauth::{OtpAlgorithm, OtpauthError, OtpauthUri};
pub use problem::{ErrorCode, PROBLEM_JSON, Problem};
pub use secret::SecretText;

#[cfg(test)]
mod wire_tests;
