//! An in-process provider for tests (this crate's and other crates'):
//! enabled by the `test-harness` feature.
//!
//! ```ignore
//! let provider = tessera_provider::testing::TestProvider::start(store, Config::default()).await;
//! let accounts = provider.seed_demo().await; // tessera-desktop client, demo + helpdesk users
//! // provider.issuer is http://127.0.0.1:<port>
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use crate::config::Config;
use crate::crypto::SecretKey;
use crate::demo::{self, DemoAccounts};
use crate::state::{AppState, Provider};
use crate::store::Store;

/// A provider serving on 127.0.0.1 on a free port until dropped.
pub struct TestProvider {
    /// `http://127.0.0.1:<port>`, the issuer URL.
    pub issuer: String,
    pub addr: SocketAddr,
    pub app: AppState,
    task: tokio::task::JoinHandle<()>,
    /// Dropped with the provider: its server stops, and its connections
    /// close (a client's next request finds no provider).
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl TestProvider {
    /// Starts on `store` with `config` (its listen address and port are
    /// replaced by 127.0.0.1 and a free port; the issuer follows unless the
    /// configuration sets one). Panics with the reason if it cannot start.
    pub async fn start(store: Arc<dyn Store>, mut config: Config) -> TestProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        config.listen_address = addr.ip();
        config.port = addr.port();
        let key = match &config.secret_key {
            Some(k) => SecretKey::from_base64(k).expect("valid secret_key"),
            None => SecretKey::generate(),
        };
        let app = Arc::new(
            Provider::new(config, store, key)
                .await
                .expect("provider starts"),
        );
        let served = app.clone();
        let (stop, stopped) = crate::stop::on_drop();
        let task = tokio::spawn(async move {
            let _ = crate::serve(listener, served, stopped).await;
        });
        TestProvider {
            issuer: app.issuer.clone(),
            addr,
            app,
            task,
            _stop: stop,
        }
    }

    /// Registers `tessera-desktop` and creates the demo and help-desk users.
    pub async fn seed_demo(&self) -> DemoAccounts {
        demo::seed(&self.app).await.expect("demo accounts")
    }
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        self.task.abort();
    }
}
