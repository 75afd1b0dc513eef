//! The self-service and help-desk account API (`/api/v1/me…`,
//! `/api/v1/users…`), authenticated by the provider's own access tokens, with
//! its OpenAPI document at `/api/openapi.json`.
//!
//! Map: `auth` (bearer and step-up extractors, token cache), `problem`
//! (errors as RFC 9457 problems), `extract` (body/path/query with problem
//! rejections), one module per resource (`me`, `devices`, `browsers`,
//! `recovery`, `activity`, `helpdesk`), `audit` (recording changes, wire form
//! of the trail), `openapi` (the document).

pub mod activity;
pub mod audit;
pub mod auth;
pub mod browsers;
pub mod devices;
pub mod extract;
pub mod helpdesk;
pub mod me;
pub mod openapi;
pub mod problem;
pub mod recovery;

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};

use crate::policy;
use crate::state::{AppState, Provider};
use crate::store::{StoreResult, User};
use problem::ApiError;

/// Settings of the account API.
#[derive(Debug, Clone)]
pub struct AccountSettings {
    /// Destructive changes need a sign-in at most this old.
    pub step_up_max_age_secs: u64,
}

impl AccountSettings {
    /// From the provider's configuration (`step_up_max_age_secs`).
    pub fn from_provider(app: &Provider) -> Self {
        AccountSettings {
            step_up_max_age_secs: app.config.step_up_max_age_secs,
        }
    }
}

/// The account API's own state, beside the provider's `AppState`.
#[derive(Debug)]
pub struct AccountApi {
    pub settings: AccountSettings,
}

impl AccountApi {
    pub fn new(settings: AccountSettings) -> Self {
        AccountApi { settings }
    }
}

type ApiState = State<AppState>;

/// The account API routes and `/api/openapi.json`, with settings from the
/// provider's configuration. Merge into the provider's router before its
/// state is applied.
pub fn router(app: &Provider) -> Router<AppState> {
    router_with(AccountSettings::from_provider(app))
}

/// Same as [`router`] with explicit settings.
pub fn router_with(settings: AccountSettings) -> Router<AppState> {
    let (routes, doc) = openapi::routes().split_for_parts();
    let doc = Arc::new(
        doc.to_pretty_json()
            .expect("the OpenAPI document serialises"),
    );
    routes
        .route(
            tessera_api::paths::OPENAPI,
            axum::routing::get(move || {
                let doc = doc.clone();
                async move {
                    let mut resp = (*doc).clone().into_response();
                    resp.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    );
                    resp
                }
            }),
        )
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::map_response(no_store))
        .layer(Extension(Arc::new(AccountApi::new(settings))))
}

/// Account data (TOTP secrets, recovery codes, activity) must never sit in a
/// cache between the provider and the client.
async fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

async fn method_not_allowed() -> Response {
    let mut e = ApiError::bad_request("This method is not allowed on this address.");
    e.status = Some(StatusCode::METHOD_NOT_ALLOWED);
    e.into_response()
}

/// Whether `user` must use a second factor: the MFA policy says so for them
/// (global or attribute trigger), or the client their token was issued to
/// requires it.
pub async fn must_use_second_factor(
    app: &Provider,
    user: &User,
    client_id: &str,
) -> StoreResult<bool> {
    if policy::mfa_required(&app.config.mfa, None, user) {
        return Ok(true);
    }
    Ok(app
        .store
        .get_client(client_id)
        .await?
        .and_then(|c| c.require_mfa)
        .unwrap_or(false))
}

/// A count for the wire (saturating; never more than u32 of anything).
fn count(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}
