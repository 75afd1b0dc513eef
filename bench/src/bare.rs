//! The ceiling of an account API read on this machine: a handler on the
//! provider's HTTP stack (`axum::serve`, the same runtime) that makes the
//! same Redis reads as `GET /api/v1/me/devices` (the user record, the
//! token's revocation marker and the devices hash, in one pipelined round
//! trip, on records of the same size) and nothing else: no token, no
//! decoding, no JSON built. The report compares it with `redis-benchmark`
//! and with the real read, so that the gap to the goal is split between the
//! stack and Tessera's own per-request work.

use axum::http::StatusCode;
use redis::aio::ConnectionManager;

/// A bare server: its URL (`GET` answers the first device record as is).
pub struct BareServer {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for BareServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

const USER_KEY: &str = "bare:user";
const REVOKED_KEY: &str = "bare:revoked-at";
const DEVICES_KEY: &str = "bare:devices";

/// Stores `user` and `devices` (records as the provider stores them) under
/// keys of its own and serves the reads (call inside the server runtime).
pub async fn start(redis_url: &str, user: Vec<u8>, devices: Vec<(String, Vec<u8>)>) -> BareServer {
    let client = redis::Client::open(redis_url).expect("Redis URL");
    let mut conn = ConnectionManager::new(client)
        .await
        .expect("connect to redis-server");
    let mut store = redis::pipe();
    store.set(USER_KEY, user).del(REVOKED_KEY).del(DEVICES_KEY);
    for (id, record) in devices {
        store.hset(DEVICES_KEY, id, record);
    }
    let () = store
        .query_async(&mut conn)
        .await
        .expect("store bare records");
    let app = axum::Router::new().route("/", axum::routing::get(move || read(conn.clone())));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind 127.0.0.1");
    let url = format!("http://{}/", listener.local_addr().expect("local address"));
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    BareServer { url, task }
}

type Answer = ([(&'static str, &'static str); 1], Vec<u8>);

async fn read(mut conn: ConnectionManager) -> Result<Answer, (StatusCode, String)> {
    let (_user, _revoked, devices): (Option<Vec<u8>>, u64, Vec<Vec<u8>>) = redis::pipe()
        .get(USER_KEY)
        .exists(REVOKED_KEY)
        .hvals(DEVICES_KEY)
        .query_async(&mut conn)
        .await
        .map_err(|e| (StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let first = devices.into_iter().next().unwrap_or_default();
    Ok(([("content-type", "application/json")], first))
}
