//! Memory of revoked access tokens (RFC 7009) and of redeemed authorization
//! codes (so a reused code revokes what it produced, RFC 6749 §4.1.2), on
//! the store's dedicated short-lived records.

use time::OffsetDateTime;

use crate::state::Provider;
use crate::store::StoreResult;

/// Refuses the access token with this `jti` until it expires anyway.
pub async fn revoke_access_token(
    app: &Provider,
    jti: &str,
    exp: OffsetDateTime,
) -> StoreResult<()> {
    app.store.revoke_access_token(jti, exp).await
}

/// The family produced by an already-redeemed code, if it is remembered
/// (the store remembers it when the code is redeemed).
pub async fn redeemed_code_family(app: &Provider, code_hash: &str) -> StoreResult<Option<String>> {
    app.store.redeemed_code_family(code_hash).await
}
