//! Lock-out after repeated failures, per account and per client IP, on the
//! store's counters (shared by every provider instance on the same store).
//!
//! Both wrong passwords and wrong second-factor codes count. An account is
//! locked when its counter reaches `account_failures`, an address when its
//! counter reaches `ip_failures`; the lock lasts until the counting window
//! (started by the first failure) ends. A complete sign-in clears the
//! account's counter, never the address's.
//!
//! An attempt is counted *before* its password or code is checked
//! ([`RateLimits::begin`]) and given back when it turns out not to be a
//! failure: counted only after a failure, concurrent guesses would all pass
//! a check made before any of them failed, and the threshold would bound
//! nothing.

use std::time::Duration;

use crate::config::RateLimits;
use crate::store::{Store, StoreError, StoreResult};

/// Refusal: too many failures; `minutes` until the lock ends (rounded up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Locked {
    pub minutes: u64,
}

fn account_key(account: &str) -> String {
    format!("signin:account:{}", account.to_lowercase())
}

/// The address's counter. An IPv6 client is counted by its /64, the
/// smallest block a site is given: one host picks any address in it at
/// will, and counted per address it would never reach the threshold.
fn ip_key(ip: &str) -> String {
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) if v6.to_ipv4_mapped().is_none() => {
            let prefix = u128::from(v6) & !((1u128 << 64) - 1);
            format!("signin:ip:{}/64", std::net::Ipv6Addr::from(prefix))
        }
        Ok(std::net::IpAddr::V6(v6)) => format!("signin:ip:{}", v6.to_canonical()),
        _ => format!("signin:ip:{ip}"),
    }
}

fn wrong_count() -> StoreError {
    StoreError::Unavailable("the store answered another number of counts than keys".into())
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

    fn window(&self) -> Duration {
        Duration::from_secs(self.window_secs)
    }

    /// Counts an attempt against the address and the account (as typed, or
    /// resolved uid) before anything is checked. Refused, and not counted,
    /// when either had already reached its threshold (failures and attempts
    /// still being checked).
    pub async fn begin(
        &self,
        store: &dyn Store,
        account: Option<&str>,
        ip: &str,
    ) -> StoreResult<Result<Attempt, Locked>> {
        let ip_key = ip_key(ip);
        let account_key = account.map(account_key);
        let mut keys = vec![ip_key.as_str()];
        keys.extend(account_key.as_deref());
        let counts = store.rate_limit_hits(&keys, self.window()).await?;
        let (ip_count, account_count) = match (counts.as_slice(), &account_key) {
            ([ip], None) => (*ip, 0),
            ([ip, account], Some(_)) => (*ip, *account),
            _ => return Err(wrong_count()),
        };
        let attempt = Attempt {
            ip_key,
            account_key,
            ip_count,
            account_count,
        };
        let over = if ip_count > self.ip_failures {
            Some(attempt.ip_key.clone())
        } else if account_count > self.account_failures {
            attempt.account_key.clone()
        } else {
            None
        };
        match over {
            Some(key) => {
                let locked = self.locked(store, &key).await?;
                self.release(store, attempt).await?;
                Ok(Err(locked))
            }
            None => Ok(Ok(attempt)),
        }
    }

    /// Counts the attempt under `account` instead of the name it began
    /// with (an email address that names this account); refused like
    /// [`Self::begin`], the attempt then unchanged.
    pub async fn rebind(
        &self,
        store: &dyn Store,
        attempt: &mut Attempt,
        account: &str,
    ) -> StoreResult<Result<(), Locked>> {
        let key = account_key(account);
        if attempt.account_key.as_ref() == Some(&key) {
            return Ok(Ok(()));
        }
        let Some(count) = self.count_account_attempt(store, &key).await? else {
            return Ok(Err(self.locked(store, &key).await?));
        };
        if let Some(old) = attempt.account_key.replace(key) {
            store.rate_limit_release(&[&old]).await?;
        }
        attempt.account_count = count;
        Ok(Ok(()))
    }

    /// Counts an attempt on the per-account counter `key` before anything
    /// is checked: the count with it, or `None` (the hit given back) when
    /// the counter was already at `account_failures`.
    pub async fn count_account_attempt(
        &self,
        store: &dyn Store,
        key: &str,
    ) -> StoreResult<Option<u64>> {
        let count = store.rate_limit_hit(key, self.window()).await?;
        if count > self.account_failures {
            store.rate_limit_release(&[key]).await?;
            return Ok(None);
        }
        Ok(Some(count))
    }

    /// The attempt failed: it stays counted. Answers whether it is the
    /// failure that locked the account or the address.
    pub async fn failed(
        &self,
        store: &dyn Store,
        attempt: Attempt,
    ) -> StoreResult<Result<(), Locked>> {
        if let Some(key) = &attempt.account_key
            && attempt.account_count >= self.account_failures
        {
            return Ok(Err(self.locked(store, key).await?));
        }
        if attempt.ip_count >= self.ip_failures {
            return Ok(Err(self.locked(store, &attempt.ip_key).await?));
        }
        Ok(Ok(()))
    }

    /// The attempt was not a failure (the factors were right, or nothing
    /// was checked): both hits are given back. (After a completed sign-in,
    /// whose [`Self::success`] clears the account's counter anyway.)
    pub async fn release(&self, store: &dyn Store, attempt: Attempt) -> StoreResult<()> {
        let mut keys = vec![attempt.ip_key.as_str()];
        keys.extend(attempt.account_key.as_deref());
        store.rate_limit_release(&keys).await
    }

    /// A complete sign-in clears the account's counter.
    pub async fn success(&self, store: &dyn Store, account: &str) -> StoreResult<()> {
        store.rate_limit_reset(&account_key(account)).await
    }
}

/// One sign-in post's password or code, counted before it is checked (see
/// the module's documentation); settled by [`RateLimits::failed`] or
/// [`RateLimits::release`].
#[derive(Debug)]
pub struct Attempt {
    ip_key: String,
    account_key: Option<String>,
    /// The counters' values when this attempt was counted, itself included.
    ip_count: u64,
    account_count: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv6_client_is_counted_by_its_64_an_ipv4_one_by_its_address() {
        let a = ip_key("2001:db8:1:2:aaaa::1");
        assert_eq!(a, "signin:ip:2001:db8:1:2::/64");
        assert_eq!(ip_key("2001:db8:1:2:ffff:ffff:ffff:ffff"), a);
        assert_ne!(ip_key("2001:db8:1:3::1"), a);
        assert_eq!(ip_key("192.0.2.7"), "signin:ip:192.0.2.7");
        // An IPv4 client seen through a dual-stack socket is the same client.
        assert_eq!(ip_key("::ffff:192.0.2.7"), "signin:ip:192.0.2.7");
        assert_eq!(ip_key("unknown"), "signin:ip:unknown");
    }
}
