//! Lock-out after repeated failures, per account and per client IP, on the
//! store's counters (shared by every provider instance on the same store).
//!
//! Both wrong passwords and wrong second-factor codes count. An account is
//! locked when its counter reaches `account_failures`, an address when its
//! counter reaches `ip_failures`; the lock lasts until the counting window
//! (started by the first failure) ends. A complete sign-in clears the
//! account's counter, never the address's.

use std::time::Duration;

use crate::config::RateLimits;
use crate::store::{Store, StoreResult};

/// Refusal: too many failures; `minutes` until the lock ends (rounded up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub minutes: u64,
}

fn account_key(account: &str) -> String {
    format!("signin:account:{}", account.to_lowercase())
}

fn ip_key(ip: &str) -> String {
    format!("signin:ip:{ip}")
}

/// `counter` on the address's key and, when there is one, the account's
/// (0 without), together: one round trip to Redis.
async fn both<'k, F, Fut>(
    ip_key: &'k str,
    account_key: Option<&'k str>,
    counter: F,
) -> StoreResult<(u64, u64)>
where
    F: Fn(&'k str) -> Fut,
    Fut: std::future::Future<Output = StoreResult<u64>>,
{
    let account = async {
        match account_key {
            Some(key) => counter(key).await,
            None => Ok(0),
        }
    };
    tokio::try_join!(counter(ip_key), account)
}

impl RateLimits {
    /// The lock on `key`, lasting until its window ends.
    async fn locked(&self, store: &dyn Store, key: &str) -> StoreResult<Locked> {
        let secs = match store.rate_limit_ttl(key).await? {
            Some(left) => left.as_secs().max(1),
            None => self.window_secs,
        };
        Ok(Locked {
            minutes: secs.div_ceil(60),
        })
    }

    /// Refuses before any password or code is checked when the account (as
    /// typed, or resolved uid) or the address is locked.
    pub async fn check(
        &self,
        store: &dyn Store,
        account: Option<&str>,
        ip: &str,
    ) -> StoreResult<Result<(), Locked>> {
        let ip_key = ip_key(ip);
        let account_key = account.map(account_key);
        let (ip_count, account_count) = both(&ip_key, account_key.as_deref(), |key| {
            store.rate_limit_count(key)
        })
        .await?;
        if ip_count >= self.ip_failures {
            return Ok(Err(self.locked(store, &ip_key).await?));
        }
        if let Some(key) = &account_key
            && account_count >= self.account_failures
        {
            return Ok(Err(self.locked(store, key).await?));
        }
        Ok(Ok(()))
    }

    /// Counts a failure; answers whether this failure locked the account or
    /// the address.
    pub async fn failure(
        &self,
        store: &dyn Store,
        account: Option<&str>,
        ip: &str,
    ) -> StoreResult<Result<(), Locked>> {
        let window = Duration::from_secs(self.window_secs);
        let ip_key = ip_key(ip);
        let account_key = account.map(account_key);
        let (ip_count, account_count) = both(&ip_key, account_key.as_deref(), |key| {
            store.rate_limit_hit(key, window)
        })
        .await?;
        let ip_locked = ip_count >= self.ip_failures;
        if let Some(key) = &account_key
            && account_count >= self.account_failures
        {
            return Ok(Err(self.locked(store, key).await?));
        }
        if ip_locked {
            return Ok(Err(self.locked(store, &ip_key).await?));
        }
        Ok(Ok(()))
    }

    pub async fn success(&self, store: &dyn Store, account: &str) -> StoreResult<()> {
        store.rate_limit_reset(&account_key(account)).await
    }
}
