//! Memory of revoked access tokens and of redeemed authorization codes.
//!
//! WORKAROUND: the `Store` trait has no dedicated methods for these yet
//! (requested in notes/requests.md). Both are short-lived markers with an
//! expiry, which is exactly what sign-in transactions are, so they are kept
//! as transactions under prefixed keys that no sign-in id can collide with
//! (sign-in transactions are keyed by a hex hash, without a colon).

use time::OffsetDateTime;

use crate::state::Provider;
use crate::store::{SignInTransaction, StoreResult};

fn revoked_key(jti: &str) -> String {
    format!("revoked-access-token:{jti}")
}

fn redeemed_key(code_hash: &str) -> String {
    format!("redeemed-code:{code_hash}")
}

/// Refuses the access token with this `jti` until it expires anyway.
pub async fn revoke_access_token(
    app: &Provider,
    jti: &str,
    exp: OffsetDateTime,
) -> StoreResult<()> {
    let marker = SignInTransaction {
        payload: serde_json::Value::Null,
        expires_at: exp,
    };
    app.store.put_transaction(&revoked_key(jti), &marker).await
}

pub async fn is_access_token_revoked(app: &Provider, jti: &str) -> StoreResult<bool> {
    Ok(app
        .store
        .get_transaction(&revoked_key(jti))
        .await?
        .is_some())
}

/// Remembers which refresh-token family a redeemed code produced, so that
/// presenting the code again revokes that family (RFC 6749 §4.1.2).
pub async fn remember_redeemed_code(
    app: &Provider,
    code_hash: &str,
    family_id: &str,
    until: OffsetDateTime,
) -> StoreResult<()> {
    let marker = SignInTransaction {
        payload: serde_json::json!({ "family_id": family_id }),
        expires_at: until,
    };
    app.store
        .put_transaction(&redeemed_key(code_hash), &marker)
        .await
}

/// The family produced by an already-redeemed code, if it is remembered.
pub async fn redeemed_code_family(app: &Provider, code_hash: &str) -> StoreResult<Option<String>> {
    Ok(app
        .store
        .get_transaction(&redeemed_key(code_hash))
        .await?
        .and_then(|t| t.payload["family_id"].as_str().map(str::to_owned)))
}
