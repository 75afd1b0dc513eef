//! The clients read lately, kept in the process for [`CLIENT_TTL`].
//!
//! A sign-in reads its client at the authorization request and again at the
//! token endpoint; on Redis the first read is a round trip of its own (the
//! transaction it starts depends on it), which costs as much CPU as any other
//! (a wake-up of the provider and of Redis). The provider never changes or
//! removes a client (`create_client` refuses an existing id, and there is no
//! update), so a cached record can only be stale after someone edits the
//! store by hand: such an edit is seen within [`CLIENT_TTL`]. Only records
//! found are kept: a client added meanwhile is found at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::store::Client;

/// How long a client read from Redis is used without reading it again.
pub const CLIENT_TTL: Duration = Duration::from_secs(5);

/// At most this many clients are kept (an organisation has a handful): a
/// full cache is emptied rather than searched for the oldest entry.
const CAPACITY: usize = 256;

pub(super) struct ClientCache {
    ttl: Duration,
    entries: Mutex<HashMap<String, (Instant, Client)>>,
}

impl ClientCache {
    pub(super) fn new(ttl: Duration) -> Self {
        ClientCache {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The client `client_id` if it was read less than the TTL ago.
    pub(super) fn get(&self, client_id: &str) -> Option<Client> {
        let entries = self.lock();
        let (read_at, client) = entries.get(client_id)?;
        (read_at.elapsed() < self.ttl).then(|| client.clone())
    }

    /// Keeps `client`, just read from the store.
    pub(super) fn put(&self, client: &Client) {
        let mut entries = self.lock();
        if entries.len() >= CAPACITY && !entries.contains_key(&client.client_id) {
            entries.clear();
        }
        entries.insert(client.client_id.clone(), (Instant::now(), client.clone()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Client)>> {
        // A panic elsewhere cannot leave the map half-written.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn client(id: &str) -> Client {
        Client {
            client_id: id.into(),
            name: id.into(),
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            post_logout_redirect_uris: Vec::new(),
            public: true,
            secret_hash: None,
            require_mfa: None,
            created_at: OffsetDateTime::UNIX_EPOCH,
        }
    }

    #[test]
    fn a_client_is_kept_for_the_ttl_only() {
        let cache = ClientCache::new(Duration::from_millis(200));
        assert_eq!(cache.get("app"), None);
        cache.put(&client("app"));
        assert_eq!(cache.get("app"), Some(client("app")));
        assert_eq!(cache.get("other"), None);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(cache.get("app"), None, "read again after the TTL");
    }

    #[test]
    fn a_full_cache_starts_over_instead_of_growing() {
        let cache = ClientCache::new(Duration::from_secs(60));
        for n in 0..CAPACITY {
            cache.put(&client(&format!("c{n}")));
        }
        assert!(cache.get("c0").is_some());
        cache.put(&client("c0"));
        assert!(cache.get("c1").is_some(), "a known id replaces its entry");
        cache.put(&client("new"));
        assert_eq!(cache.get("c1"), None);
        assert!(cache.get("new").is_some());
        assert!(cache.lock().len() == 1);
    }
}
