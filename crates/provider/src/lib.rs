//! The Tessera identity provider: OpenID Connect with mandatory TOTP, trusted
//! browsers and the self-service account API.

pub mod store;

use std::net::SocketAddr;

use axum::{Json, Router, routing::get};
use serde_json::json;

/// The provider's HTTP routes.
pub fn router() -> Router {
    Router::new().route("/healthz", get(health))
}

async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Binds `addr` and serves until the process ends.
pub async fn serve(addr: SocketAddr) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    axum::serve(listener, router()).await
}
