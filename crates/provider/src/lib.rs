//! The Tessera identity provider: OpenID Connect with mandatory TOTP, trusted
//! browsers and (later) the self-service account API.
//!
//! Map: `oidc` holds the protocol endpoints, `signin` the server-rendered
//! sign-in pages, `tokens`/`jwt` the JWTs and `keyring` their keys, `totp`, `recovery`, `trusted`,
//! `ratelimit`, `policy`, `acr` the domain rules, `store` the storage trait
//! and its implementations, `cli` the command line.

pub mod account;
pub mod acr;
pub mod audit;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod demo;
pub mod error;
pub mod i18n;
pub mod jwt;
pub mod keyring;
pub mod oidc;
pub mod pages;
pub mod password;
pub mod policy;
pub mod ratelimit;
pub mod recovery;
pub mod revocation;
pub mod signin;
pub mod state;
pub mod stop;
pub mod store;
pub mod tls;
pub mod tokens;
pub mod totp;
pub mod trusted;
pub mod useragent;
pub mod web;

#[cfg(any(test, feature = "test-harness"))]
pub mod testing;

use std::net::SocketAddr;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::json;
use tessera_api::ErrorCode;

pub use state::{AppState, Provider};

/// The provider's HTTP routes.
pub fn router(app: AppState) -> Router {
    Router::new()
        .route("/healthz", get(health))
        .route(
            "/.well-known/openid-configuration",
            get(oidc::discovery::discovery),
        )
        .route("/jwks", get(oidc::discovery::jwks))
        .route("/authorize", get(oidc::authorize::authorize))
        .route("/signin", get(signin::show).post(signin::submit))
        .route("/token", post(oidc::token::token))
        .route(
            "/userinfo",
            get(oidc::userinfo::userinfo).post(oidc::userinfo::userinfo),
        )
        .route("/revoke", post(oidc::revoke::revoke))
        .route(
            "/logout",
            get(oidc::logout::logout).post(oidc::logout::logout),
        )
        .route("/static/style.css", get(style))
        .merge(account::router())
        .fallback(not_found)
        .with_state(app)
        // Forms and token requests are small; refuse anything larger early.
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
}

/// [`router`] as served: requests that change something run to their end
/// ([`web::FinishChanges`], around the router rather than in it, where every
/// route would pay a box for it, reads included).
pub fn service(app: AppState) -> web::FinishChangesService<Router> {
    tower_layer::Layer::layer(&web::FinishChanges, router(app))
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

async fn style() -> Response {
    let mut resp = pages::STYLE_CSS.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/css; charset=utf-8"),
    );
    resp
}

async fn not_found() -> Response {
    error::problem(ErrorCode::NotFound, "There is nothing at this address.")
}

/// Serves `app` on `listener` (the client's address is made available for
/// rate limiting) until `stop` resolves, then lets the requests in progress
/// finish, for at most [`stop::GRACE`], and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: AppState,
    stop: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    tracing::info!(address = %listener.local_addr()?, issuer = %app.issuer, store = app.store.kind(), "listening");
    state::reload_keys_periodically(&app);
    let (signal, deadline) = stop::with_deadline(stop);
    let server =
        axum::serve(
            listener,
            axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
                SocketAddr,
            >(service(app)),
        )
        .with_graceful_shutdown(signal);
    tokio::select! {
        served = std::future::IntoFuture::into_future(server) => served,
        () = deadline => Ok(()),
    }
}
