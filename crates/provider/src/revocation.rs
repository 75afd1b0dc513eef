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

/// Remembers which refresh-token family a redeemed code produced.
pub async fn remember_redeemed_code(
    app: &Provider,
    code_hash: &str,
    family_id: &str,
    until: OffsetDateTime,
) -> StoreResult<()> {
    app.store
        .remember_redeemed_code(code_hash, family_id, until)
        .await
}

/// The family produced by an already-redeemed code, if it is remembered.
pub async fn redeemed_code_family(app: &Provider, code_hash: &str) -> StoreResult<Option<String>> {
    app.store.redeemed_code_family(code_hash).await
}
