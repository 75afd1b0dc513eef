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

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::policy;
use crate::state::{AppState, Provider};
use crate::store::{StoreResult, User};
use problem::ApiError;

type ApiState = State<AppState>;

/// The account API routes and `/api/openapi.json`. Merge into the
/// provider's router before its state is applied.
pub fn router() -> Router<AppState> {
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
        // Account data (TOTP secrets, recovery codes, activity) must never
        // sit in a cache between the provider and the client.
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-store"),
        ))
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
