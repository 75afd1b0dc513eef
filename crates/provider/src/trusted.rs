//! Trusted browsers: after a successful code, the user may let this browser
//! skip the second factor for a while. The cookie holds a random value; the
//! store keeps only its hash, with a readable name, creation, last use and
//! expiry. Each record is revoked on its own.

use axum::http::{HeaderMap, HeaderValue};
use time::{Duration, OffsetDateTime};

use crate::crypto::{random_token, token_hash};
use crate::state::Provider;
use crate::store::{StoreResult, TrustedBrowser, User};
use crate::useragent::browser_name;
use crate::web::{TRUSTED_COOKIE, cookie, set_cookie};

/// Trusts the current browser for `uid`; returns the `Set-Cookie` value.
pub async fn trust(
    app: &Provider,
    uid: &str,
    user_agent: Option<&str>,
    now: OffsetDateTime,
) -> StoreResult<(TrustedBrowser, HeaderValue)> {
    let value = random_token(32);
    let days = app.config.trusted_browser_days;
    let record = TrustedBrowser {
        id: random_token(12),
        uid: uid.to_owned(),
        name: browser_name(user_agent.unwrap_or_default()),
        token_hash: token_hash(&value),
        created_at: now,
        last_used_at: None,
        expires_at: now + Duration::days(days as i64),
    };
    app.store.create_trusted_browser(&record).await?;
    Ok((
        record,
        set_cookie(
            TRUSTED_COOKIE,
            &value,
            Some(days * 86_400),
            app.secure_cookies,
        ),
    ))
}

/// The browser's unexpired trust record for `user`, marked as used now.
pub async fn recognise(
    app: &Provider,
    headers: &HeaderMap,
    user: &User,
    now: OffsetDateTime,
) -> StoreResult<Option<TrustedBrowser>> {
    let Some(value) = cookie(headers, TRUSTED_COOKIE) else {
        return Ok(None);
    };
    match app.store.find_trusted_browser(&token_hash(&value)).await? {
        // Trust given before a reset of the devices went with them.
        Some(tb)
            if tb.uid == user.uid
                && tb.expires_at > now
                && user.signed_in_since_reset(tb.created_at.unix_timestamp()) =>
        {
            app.store
                .touch_trusted_browser(&user.uid, &tb.id, now)
                .await?;
            Ok(Some(tb))
        }
        _ => Ok(None),
    }
}
