//! The default browser opener honours `BROWSER`: a full sign-in where the
//! only link to the stand-in browser is that variable. Alone in its test
//! binary, since it sets a process-wide variable.

mod support;

use std::sync::Arc;

use support::{config, env, log_of};
use tessera_client::{Client, MemoryTokenStore};

#[tokio::test]
async fn login_opens_the_browser_named_by_the_browser_variable() {
    let env = env().await;
    let (spec, log) = env.browser_spec("demo");
    // SAFETY: this binary runs only this test, and no other thread reads the
    // environment while it is being set.
    unsafe { std::env::set_var("BROWSER", &spec) };
    let client = Client::new(
        config(&env.provider.issuer, |_| {}),
        Arc::new(MemoryTokenStore::default()),
    )
    .unwrap();
    let info = client
        .login()
        .await
        .unwrap_or_else(|e| panic!("login: {e}\n{}", log_of(&log)));
    assert_eq!(info.subject, "demo");
    assert!(
        log_of(&log).contains("callback"),
        "the stand-in reached the loopback callback"
    );
}
