//! How the Redis store reaches its primary: at one fixed address, or at the
//! address Redis Sentinel names for a service. With Sentinel the primary is
//! asked for again after a connection failure or a `READONLY` answer (the
//! old primary demoted to a replica), so a failover is followed without
//! restarting the provider.

use std::sync::Mutex;
use std::time::Duration;

use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::sentinel::{SentinelClient, SentinelServerType};
use ::redis::{ErrorKind, RedisError, ServerErrorKind};

use crate::store::StoreError;

pub(super) struct RedisLink {
    upstream: Upstream,
}

enum Upstream {
    Direct(ConnectionManager),
    Sentinel {
        sentinel: Box<tokio::sync::Mutex<SentinelClient>>,
        /// The primary's connection; `None` after a failure, so the next
        /// call asks Sentinel again.
        current: Mutex<Option<ConnectionManager>>,
    },
}

/// Fail fast while Redis is unreachable (every call answers `Unavailable`),
/// reconnect by itself once it is back.
fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(5)))
        .set_number_of_retries(1)
        .set_min_delay(Duration::from_millis(50))
        .set_max_delay(Duration::from_millis(500))
}

impl RedisLink {
    /// `url` is `redis://` or `rediss://` (TLS); a TLS server's certificate
    /// is checked against `ca_pem` when given, else the system's roots.
    pub(super) async fn direct(url: &str, ca_pem: Option<&[u8]>) -> Result<Self, StoreError> {
        let client = match ca_pem {
            None => ::redis::Client::open(url),
            Some(ca) => ::redis::Client::build_with_tls(
                url,
                ::redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(ca.to_vec()),
                },
            ),
        }
        .map_err(|err| StoreError::Invalid(format!("Redis URL {}: {err}", shown(url))))?;
        let manager = ConnectionManager::new_with_config(client, manager_config())
            .await
            .map_err(map_error)?;
        Ok(RedisLink {
            upstream: Upstream::Direct(manager),
        })
    }

    /// `sentinels` are `redis://host:port` URLs of Sentinel nodes; `service`
    /// is the monitored primary's name. Fails with `Unavailable` if no
    /// Sentinel names a reachable primary now.
    pub(super) async fn sentinel(sentinels: &[String], service: &str) -> Result<Self, StoreError> {
        if sentinels.is_empty() {
            return Err(StoreError::Invalid("no Sentinel address given".into()));
        }
        let client = SentinelClient::build(
            sentinels.to_vec(),
            service,
            None,
            SentinelServerType::Master,
        )
        .map_err(|err| {
            let shown: Vec<String> = sentinels.iter().map(|s| shown(s)).collect();
            StoreError::Invalid(format!("Sentinel addresses {shown:?}: {err}"))
        })?;
        let link = RedisLink {
            upstream: Upstream::Sentinel {
                sentinel: Box::new(tokio::sync::Mutex::new(client)),
                current: Mutex::new(None),
            },
        };
        link.connection().await?;
        Ok(link)
    }

    /// A connection to the primary (cheap to clone per call).
    pub(super) async fn connection(&self) -> Result<ConnectionManager, StoreError> {
        match &self.upstream {
            Upstream::Direct(manager) => Ok(manager.clone()),
            Upstream::Sentinel { sentinel, current } => {
                if let Some(manager) = lock(current).clone() {
                    return Ok(manager);
                }
                let mut sentinel = sentinel.lock().await;
                // Another call may have resolved the primary while we waited.
                if let Some(manager) = lock(current).clone() {
                    return Ok(manager);
                }
                let client = sentinel.async_get_client().await.map_err(map_error)?;
                let manager = ConnectionManager::new_with_config(client, manager_config())
                    .await
                    .map_err(map_error)?;
                *lock(current) = Some(manager.clone());
                Ok(manager)
            }
        }
    }

    /// Maps a failed call's error; with Sentinel, forgets the primary when
    /// the failure suggests it moved.
    pub(super) fn failed(&self, err: RedisError) -> StoreError {
        if let Upstream::Sentinel { current, .. } = &self.upstream
            && primary_may_have_moved(&err)
        {
            *lock(current) = None;
        }
        map_error(err)
    }
}

fn primary_may_have_moved(err: &RedisError) -> bool {
    err.is_io_error()
        || err.is_connection_refusal()
        || err.is_connection_dropped()
        || err.is_timeout()
        || err.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // The guarded value is a plain Option; a panic elsewhere can't leave it
    // half-written.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Decoding problems are corrupt data; everything else (refused connection,
/// timeout, dropped connection, server error) means Redis cannot serve the
/// request now.
pub(super) fn map_error(err: RedisError) -> StoreError {
    match err.kind() {
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType => {
            StoreError::Corrupt(format!("redis: {err}"))
        }
        _ => StoreError::Unavailable(format!("redis: {err}")),
    }
}

/// `url` as an error message may show it: without its password, which
/// would otherwise reach the logs and the terminal with a typo elsewhere in
/// the URL. One that does not parse is not shown at all.
fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("***"));
            }
            format!("{:?}", parsed.as_str())
        }
        Err(_) => "(not shown: it does not parse, and may hold a password)".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redis_urls_password_is_never_shown() {
        assert_eq!(
            shown("redis://:s3cret@db.example.org:6379/0"),
            r#""redis://:***@db.example.org:6379/0""#
        );
        assert_eq!(
            shown("rediss://app:s3cret@db.example.org/"),
            r#""rediss://app:***@db.example.org/""#
        );
        assert_eq!(shown("redis://db:6379/"), r#""redis://db:6379/""#);
        assert!(!shown("redis://:s3cret@[::1:6379/").contains("s3cret"));
    }

    #[tokio::test]
    async fn a_malformed_url_is_refused_without_its_password() {
        for url in [
            "redis://:s3cret@db.example.org:notaport/",
            "mysql://:s3cret@db/",
        ] {
            let err = match RedisLink::direct(url, None).await {
                Err(err) => err,
                Ok(_) => panic!("{url} was accepted"),
            };
            let text = err.to_string();
            assert!(matches!(err, StoreError::Invalid(_)), "{url}: {text}");
            assert!(!text.contains("s3cret"), "{url}: {text}");
        }
    }
}
