//! The provider under test, served in this process on its own Tokio runtime
//! (the load generator has another one), on the embedded store in a
//! temporary directory or on a `redis-server` this program starts.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_provider::config::Config;
use tessera_provider::crypto::SecretKey;
use tessera_provider::store::{Device, EncryptedSecret, PasswordHash, Store, User};
use tessera_provider::tokens::{self, Grant};
use tessera_provider::{AppState, Provider, demo, password};
use time::OffsetDateTime;

pub const PASSWORD: &str = "bench-password-1";

/// A user created for the benchmark, with one or more TOTP devices.
pub struct BenchUser {
    pub uid: String,
    /// Secret of the first device.
    pub secret: Vec<u8>,
}

/// A `redis-server` without persistence on a free 127.0.0.1 port.
pub struct RedisProcess {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl RedisProcess {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn start() -> RedisProcess {
        let binary = PathBuf::from(
            std::env::var_os("TESSERA_REDIS_SERVER")
                .unwrap_or_else(|| "/usr/bin/redis-server".into()),
        );
        let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let dir = tempfile::tempdir().expect("temporary directory");
        let child = Command::new(&binary)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Ok(mut s) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) {
                let mut reply = [0u8; 7];
                if s.write_all(b"PING\r\n").is_ok()
                    && s.read_exact(&mut reply).is_ok()
                    && &reply == b"+PONG\r\n"
                {
                    break;
                }
            }
            assert!(Instant::now() < deadline, "redis-server did not answer");
            std::thread::sleep(Duration::from_millis(20));
        }
        RedisProcess {
            child,
            port,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for RedisProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StoreKind {
    Embedded,
    Redis,
}

impl StoreKind {
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Embedded => "embedded",
            StoreKind::Redis => "redis",
        }
    }
}

/// A provider serving on 127.0.0.1 from the server runtime.
pub struct Server {
    pub issuer: String,
    pub app: AppState,
    /// The embedded store, for its commit counts (`None` on Redis).
    embedded: Option<Arc<tessera_provider::store::EmbeddedStore>>,
    task: tokio::task::JoinHandle<()>,
    /// Dropped with the server: it stops, and its connections close.
    _stop: tokio::sync::oneshot::Sender<()>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Starts a provider on a fresh store (call inside the server runtime).
    pub async fn start(kind: StoreKind, redis_url: Option<&str>) -> Server {
        let dir = tempfile::tempdir().expect("temporary data directory");
        let (store, embedded): (Arc<dyn Store>, _) = match kind {
            StoreKind::Embedded => {
                let store = Arc::new(
                    tessera_provider::store::EmbeddedStore::open(dir.path())
                        .expect("embedded store"),
                );
                (store.clone(), Some(store))
            }
            StoreKind::Redis => {
                let url = redis_url.expect("a Redis URL");
                // A fresh prefix per run, so runs on one server do not mix.
                let prefix = format!("bench-{}:", tessera_provider::crypto::random_token(6));
                let store = tessera_provider::store::RedisStore::connect(url, &prefix)
                    .await
                    .expect("connect to redis-server");
                (Arc::new(store), None)
            }
        };
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let mut config = Config::default();
        config.listen_address = addr.ip();
        config.port = addr.port();
        config.store = match kind {
            StoreKind::Embedded => tessera_provider::config::StoreKind::Embedded,
            StoreKind::Redis => tessera_provider::config::StoreKind::Redis,
        };
        let app = Arc::new(
            Provider::new(config, store.clone(), SecretKey::generate())
                .await
                .expect("provider starts"),
        );
        store
            .create_client(&demo::desktop_client(OffsetDateTime::now_utc()))
            .await
            .expect("register the desktop client");
        let served = app.clone();
        let (stop, stopped) = tessera_provider::stop::on_drop();
        let task = tokio::spawn(async move {
            let _ = tessera_provider::serve(listener, served, stopped).await;
        });
        Server {
            issuer: app.issuer.clone(),
            app,
            embedded,
            task,
            _stop: stop,
            _dir: dir,
        }
    }

    /// The embedded store's commit counts so far (`None` on Redis).
    pub fn commits(&self) -> Option<tessera_provider::store::embedded::Commits> {
        self.embedded.as_ref().map(|store| store.commits())
    }

    /// Creates `count` users `<prefix>N` (password [`PASSWORD`]) with
    /// `devices` TOTP devices each. One password hash serves them all (the
    /// hash is what a sign-in verifies; computing 1,000 would only slow the
    /// set-up).
    pub async fn add_users(&self, prefix: &str, count: usize, devices: usize) -> Vec<BenchUser> {
        let phc = password::hash(PASSWORD);
        let mut set = tokio::task::JoinSet::new();
        let gate = Arc::new(tokio::sync::Semaphore::new(32));
        for n in 0..count {
            let (app, phc, gate) = (self.app.clone(), phc.clone(), gate.clone());
            let uid = format!("{prefix}{n}");
            set.spawn(async move {
                let _permit = gate.acquire().await.expect("semaphore");
                let now = OffsetDateTime::now_utc();
                let user = User {
                    uid: uid.clone(),
                    email: format!("{uid}@bench.example"),
                    display_name: format!("Bench {uid}"),
                    password_hash: PasswordHash(phc),
                    roles: BTreeSet::new(),
                    attributes: Default::default(),
                    disabled: false,
                    created_at: now,
                    devices_reset_at: None,
                };
                app.store.create_user(&user).await.expect("create user");
                let mut first = Vec::new();
                for d in 0..devices {
                    let secret: Vec<u8> = format!("{uid}-device-{d}-secret-bytes")
                        .into_bytes()
                        .into_iter()
                        .take(20)
                        .collect();
                    let device = Device {
                        id: format!("{uid}-d{d}"),
                        uid: uid.clone(),
                        name: format!("Phone {d}"),
                        secret: EncryptedSecret(app.secret_key.seal(&secret, &uid)),
                        registered_at: now,
                        last_used_at: None,
                    };
                    app.store
                        .create_device(&device)
                        .await
                        .expect("create device");
                    if d == 0 {
                        first = secret;
                    }
                }
                (n, BenchUser { uid, secret: first })
            });
        }
        let mut users: Vec<(usize, BenchUser)> = Vec::with_capacity(count);
        while let Some(joined) = set.join_next().await {
            users.push(joined.expect("user creation"));
        }
        users.sort_by_key(|(n, _)| *n);
        users.into_iter().map(|(_, u)| u).collect()
    }

    /// An access token for `uid` as the token endpoint would issue it after
    /// a sign-in with password and code.
    pub async fn mint_access_token(&self, uid: &str) -> String {
        let user = self
            .app
            .store
            .get_user(uid)
            .await
            .expect("store")
            .expect("user exists");
        let now = OffsetDateTime::now_utc();
        let grant = Grant {
            client_id: demo::DESKTOP_CLIENT_ID.into(),
            scope: "openid profile email".into(),
            acr: Some("eidas1-mfa".into()),
            amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
            auth_time: now,
            nonce: None,
        };
        tokens::access_token(&self.app, &user, &grant, now).0
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}
