//! Test support shared by the provider's integration tests (`mod support;`):
//! a real `redis-server` per test and both store implementations.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tessera_provider::store::{EmbeddedStore, RedisStore, Store};

/// How long a freshly spawned redis-server may take to answer PING.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);

/// A `redis-server` child process on a free 127.0.0.1 port, without
/// persistence, killed on drop. Also runs replicas and Sentinels.
pub struct RedisServer {
    binary: PathBuf,
    port: u16,
    role: Role,
    child: Option<Child>,
    dir: tempfile::TempDir,
}

#[derive(Clone)]
enum Role {
    Primary,
    /// Replica of the primary on this port.
    Replica(u16),
    /// Sentinel monitoring the primary on this port under this name.
    Sentinel(u16, String),
    /// A primary also serving TLS on this port with the certificate and
    /// key (PEM) written in its directory.
    Tls(u16),
}

impl RedisServer {
    /// Spawns `$TESSERA_REDIS_SERVER` (default `/usr/bin/redis-server`) and
    /// waits until it answers. Panics with an explanation when the binary is
    /// missing: tests needing Redis fail, they never skip.
    pub fn start() -> RedisServer {
        Self::start_as(Role::Primary)
    }

    /// A replica of `primary`, started once it has synchronised.
    pub fn start_replica_of(primary: &RedisServer) -> RedisServer {
        let replica = Self::start_as(Role::Replica(primary.port));
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while !replica
            .info("replication")
            .is_some_and(|info| info.contains("master_link_status:up"))
        {
            assert!(
                Instant::now() < deadline,
                "replica did not sync with its primary"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        replica
    }

    /// A Sentinel monitoring `primary` as `service` (quorum 1, primary
    /// considered down after 500 ms).
    pub fn start_sentinel(primary: &RedisServer, service: &str) -> RedisServer {
        Self::start_as(Role::Sentinel(primary.port, service.to_owned()))
    }

    /// A primary that also serves TLS (`tls_url()`) with this certificate
    /// and key (PEM); clients need not present certificates.
    pub fn start_tls(cert_pem: &str, key_pem: &str) -> RedisServer {
        let dir = tempfile::tempdir().expect("temporary directory for TLS files");
        std::fs::write(dir.path().join("tls.crt"), cert_pem).unwrap();
        std::fs::write(dir.path().join("tls.key"), key_pem).unwrap();
        Self::start_in(Role::Tls(free_port()), dir)
    }

    /// `rediss://127.0.0.1:<tls port>/` of a server started by `start_tls`.
    pub fn tls_url(&self) -> String {
        match self.role {
            Role::Tls(port) => format!("rediss://127.0.0.1:{port}/"),
            _ => panic!("not a TLS server"),
        }
    }

    fn start_as(role: Role) -> RedisServer {
        let dir = tempfile::tempdir().expect("temporary directory for redis-server");
        Self::start_in(role, dir)
    }

    fn start_in(role: Role, dir: tempfile::TempDir) -> RedisServer {
        let binary = PathBuf::from(
            std::env::var_os("TESSERA_REDIS_SERVER")
                .unwrap_or_else(|| "/usr/bin/redis-server".into()),
        );
        assert!(
            binary.is_file(),
            "redis-server not found at {} (install the Debian package redis-server or set \
             TESSERA_REDIS_SERVER to the binary); Redis tests fail rather than skip",
            binary.display()
        );
        let mut server = RedisServer {
            binary,
            port: 0,
            role,
            child: None,
            dir,
        };
        // A port found free may be taken by a parallel test before the
        // server binds it: then try another one.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn().is_ok() {
                return server;
            }
        }
        panic!("redis-server could not start on a free port (5 attempts)");
    }

    /// The server's `INFO <section>` text, if it answers.
    pub fn info(&self, section: &str) -> Option<String> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).ok()?;
        stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
        stream
            .write_all(format!("INFO {section}\r\n").as_bytes())
            .ok()?;
        // A bulk string: "$<length>\r\n<body>\r\n".
        let mut reply = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = stream.read(&mut buf).ok()?;
            if n == 0 {
                return None;
            }
            reply.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&reply);
            let (header, body) = text.split_once("\r\n")?;
            let length: usize = header.strip_prefix('$')?.parse().ok()?;
            if body.len() >= length + 2 {
                return Some(body[..length].to_owned());
            }
        }
    }

    /// `CONFIG SET name value`, which must answer `+OK`.
    pub fn config_set(&self, name: &str, value: &str) {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        stream
            .write_all(format!("CONFIG SET {name} {value}\r\n").as_bytes())
            .unwrap();
        let mut reply = [0u8; 5];
        stream.read_exact(&mut reply).unwrap();
        assert_eq!(&reply, b"+OK\r\n", "CONFIG SET {name} {value}");
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `redis://127.0.0.1:<port>/`
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A plain connection, for tests that read or write keys by hand.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    /// Kills the server (SIGKILL, as a crash would) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server if running and starts a new one on the same port.
    pub fn restart(&mut self) {
        self.stop();
        if let Err(why) = self.spawn() {
            panic!("redis-server did not restart on port {}: {why}", self.port);
        }
    }

    /// Starts the server on `self.port` and waits until *this* process
    /// answers there (checked by pid, so a server of another test that
    /// grabbed the port is not mistaken for ours).
    fn spawn(&mut self) -> Result<(), String> {
        let mut command = Command::new(&self.binary);
        match &self.role {
            Role::Sentinel(primary, service) => {
                let conf = self.dir.path().join("sentinel.conf");
                std::fs::write(
                    &conf,
                    format!(
                        "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                         sentinel monitor {service} 127.0.0.1 {primary} 1\n\
                         sentinel down-after-milliseconds {service} 500\n\
                         sentinel failover-timeout {service} 3000\n",
                        port = self.port,
                        dir = self.dir.path().display(),
                    ),
                )
                .expect("write sentinel.conf");
                command.arg(&conf).arg("--sentinel");
            }
            role => {
                command
                    .args(["--port", &self.port.to_string()])
                    .args(["--bind", "127.0.0.1"])
                    .args(["--save", ""])
                    .args(["--appendonly", "no"])
                    .arg("--dir")
                    .arg(self.dir.path());
                if let Role::Replica(primary) = role {
                    command.args(["--replicaof", "127.0.0.1", &primary.to_string()]);
                }
                if let Role::Tls(tls_port) = role {
                    let file = |name: &str| self.dir.path().join(name);
                    command
                        .args(["--tls-port", &tls_port.to_string()])
                        .arg("--tls-cert-file")
                        .arg(file("tls.crt"))
                        .arg("--tls-key-file")
                        .arg(file("tls.key"))
                        .arg("--tls-ca-cert-file")
                        .arg(file("tls.crt"))
                        .args(["--tls-auth-clients", "no"]);
                }
            }
        }
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot start {}: {err}", self.binary.display()));
        let pid = child.id();
        self.child = Some(child);
        let deadline = Instant::now() + STARTUP_TIMEOUT;
        while self.answering_pid() != Some(pid) {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                self.child = None;
                return Err(format!("exited at start ({status})"));
            }
            if Instant::now() > deadline {
                self.stop();
                return Err(format!("did not answer within {STARTUP_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(())
    }

    /// The pid of the redis-server answering on the port, if any.
    fn answering_pid(&self) -> Option<u32> {
        let info = self.info("server")?;
        let pid = info.lines().find_map(|l| l.strip_prefix("process_id:"))?;
        pid.trim().parse().ok()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}

/// Keeps what a store under test needs alive (its directory or server).
pub enum StoreGuard {
    Embedded(tempfile::TempDir),
    Memory,
    Redis(RedisServer),
}

impl StoreGuard {
    /// The Redis server behind the store, for restart tests.
    pub fn redis(&mut self) -> Option<&mut RedisServer> {
        match self {
            StoreGuard::Redis(server) => Some(server),
            StoreGuard::Embedded(_) | StoreGuard::Memory => None,
        }
    }
}

/// A fresh embedded store in a temporary directory.
pub async fn embedded_store() -> (Arc<dyn Store>, StoreGuard) {
    let dir = tempfile::tempdir().expect("temporary data directory");
    let store = EmbeddedStore::open(dir.path()).expect("open embedded store");
    (Arc::new(store), StoreGuard::Embedded(dir))
}

/// The embedded store on redb's in-memory backend (no file).
pub async fn memory_store() -> (Arc<dyn Store>, StoreGuard) {
    let store = EmbeddedStore::in_memory().expect("in-memory embedded store");
    (Arc::new(store), StoreGuard::Memory)
}

/// A Redis store on its own fresh `redis-server`.
pub async fn redis_store() -> (Arc<dyn Store>, StoreGuard) {
    let server = RedisServer::start();
    let store = RedisStore::connect(&server.url(), "tessera-test:")
        .await
        .expect("connect to redis-server");
    (Arc::new(store), StoreGuard::Redis(server))
}

/// Both implementations, fresh, for tests that must hold on each of them.
pub async fn each_store() -> Vec<(&'static str, Arc<dyn Store>, StoreGuard)> {
    let (embedded, embedded_guard) = embedded_store().await;
    let (redis, redis_guard) = redis_store().await;
    vec![
        ("embedded", embedded, embedded_guard),
        ("redis", redis, redis_guard),
    ]
}

/// Sends SIGTERM to `child` (a provider), as a service manager's stop
/// would, and returns how it exited, waiting at most twice the provider's
/// grace period for its requests in progress.
#[cfg(unix)]
#[allow(dead_code)] // not every test binary stops a provider
pub fn stop(child: &mut std::process::Child) -> std::process::ExitStatus {
    let pid = libc::pid_t::try_from(child.id()).unwrap();
    // SAFETY: kill(2) on our own child's pid; no memory is involved.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let deadline = std::time::Instant::now() + 2 * tessera_provider::stop::GRACE;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the provider did not stop"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}
