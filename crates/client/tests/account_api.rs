//! The account API client against the project's provider over real HTTP,
//! after real sign-ins (see support/mod.rs): every self-service and
//! help-desk route, typed errors with the problem `code`, and RFC 9470
//! step-up handled by re-running the sign-in and retrying once.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::{env, env_with, log_of, record_progress, totp_now};
use tessera_client::api::{AuditAction, ErrorCode};
use tessera_client::{ClientError, LoginProgress, MemoryTokenStore};

fn dones(progress: &std::sync::Mutex<Vec<LoginProgress>>) -> usize {
    progress
        .lock()
        .unwrap()
        .iter()
        .filter(|p| matches!(p, LoginProgress::Done { .. }))
        .count()
}

#[tokio::test]
async fn self_service_routes_end_to_end() {
    let env = env().await;
    let (client, log) = env.client("demo", Arc::new(MemoryTokenStore::default()), |_| {});
    client
        .login()
        .await
        .unwrap_or_else(|e| panic!("login: {e}\n{}", log_of(&log)));

    let me = client.me().await.unwrap();
    assert_eq!(me.uid, "demo");
    assert_eq!(me.acr, "eidas1-mfa");
    assert_eq!(me.device_count, 1);
    assert!(!me.is_helpdesk());

    // Enrol a second app: start, then confirm with its current code.
    let started = client.start_enrollment("  Phone ").await.unwrap();
    assert_eq!(started.name, "Phone");
    assert!(started.otpauth_uri.expose().starts_with("otpauth://totp/"));
    assert_eq!(
        client.devices().await.unwrap().len(),
        1,
        "nothing stored before the code"
    );
    let wrong = client
        .confirm_enrollment(&started.enrollment_id, "000000")
        .await;
    // (a one-in-a-million chance that 000000 is the right code is accepted)
    if let Err(e) = &wrong {
        assert_eq!(e.api_code(), Some(ErrorCode::InvalidCode), "{e}");
    }
    let confirmed = match wrong {
        Ok(c) => c,
        Err(_) => client
            .confirm_enrollment(
                &started.enrollment_id,
                &totp_now(started.secret.expose(), 0),
            )
            .await
            .unwrap(),
    };
    let new_id = confirmed.device.id.clone();
    assert_eq!(confirmed.device.name, "Phone");

    let renamed = client.rename_device(&new_id, "Work phone").await.unwrap();
    assert_eq!(renamed.name, "Work phone");
    let names: Vec<String> = client
        .devices()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert!(
        names.contains(&"Work phone".to_owned()) && names.len() == 2,
        "{names:?}"
    );

    // Refused locally, before any request.
    let err = client.rename_device(&new_id, "   ").await.unwrap_err();
    assert_eq!(err.code(), "bad_request");
    let err = client
        .confirm_enrollment(&started.enrollment_id, "12ab56")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "bad_request");

    // Someone else's / unknown ids: not_found with the provider's detail.
    let err = client.remove_device("no-such-device").await.unwrap_err();
    assert_eq!(err.code(), "not_found", "{err}");
    assert!(matches!(err, ClientError::Api { status: 404, .. }));
    let err = client.rename_device("../devices", "x").await.unwrap_err();
    assert_eq!(err.code(), "not_found", "{err}");

    let browsers = client.trusted_browsers().await.unwrap();
    let removed = client.revoke_all_browsers().await.unwrap();
    assert_eq!(removed.removed as usize, browsers.len());
    assert!(client.trusted_browsers().await.unwrap().is_empty());

    let codes = client.regenerate_recovery_codes().await.unwrap();
    assert_eq!(codes.codes.len(), 10);

    let page = client.activity(None, Some(50)).await.unwrap();
    let actions: Vec<AuditAction> = page.events.iter().map(|e| e.action).collect();
    assert!(
        actions.contains(&AuditAction::DeviceEnrolled),
        "{actions:?}"
    );
    assert!(actions.contains(&AuditAction::DeviceRenamed), "{actions:?}");
    assert!(
        page.events.windows(2).all(|w| w[0].time >= w[1].time),
        "newest first"
    );

    client.remove_device(&new_id).await.unwrap();
    assert_eq!(client.devices().await.unwrap().len(), 1);
    let last = client.devices().await.unwrap()[0].id.clone();
    let err = client.remove_device(&last).await.unwrap_err();
    assert_eq!(err.api_code(), Some(ErrorCode::LastFactor), "{err}");
    assert!(
        err.message(tessera_client::Lang::Fr)
            .contains("dernière application")
    );
}

#[tokio::test]
async fn step_up_re_runs_the_sign_in_and_retries_once() {
    // Ten seconds leave a loaded machine ample time between the new sign-in
    // and the retried call.
    let env = env_with(|c| c.step_up_max_age_secs = 10).await;
    let (client, log) = env.client("demo", Arc::new(MemoryTokenStore::default()), |_| {});
    let progress = record_progress(&client);
    client
        .login()
        .await
        .unwrap_or_else(|e| panic!("login: {e}\n{}", log_of(&log)));
    assert_eq!(dones(&progress), 1);

    // Let the sign-in grow older than the step-up age (not a timing assertion).
    tokio::time::sleep(Duration::from_secs(12)).await;
    let codes = client
        .regenerate_recovery_codes()
        .await
        .unwrap_or_else(|e| panic!("step-up: {e}\n{}", log_of(&log)));
    assert_eq!(codes.codes.len(), 10);
    assert_eq!(dones(&progress), 2, "one more sign-in, run by the step-up");
}

#[tokio::test]
async fn help_desk_routes_with_reasons_and_roles() {
    let env = env().await;
    // The demo user (not help desk) is refused the help-desk routes.
    let (user, log) = env.client("demo", Arc::new(MemoryTokenStore::default()), |_| {});
    user.login()
        .await
        .unwrap_or_else(|e| panic!("login: {e}\n{}", log_of(&log)));
    let err = user.search_users("dem", None).await.unwrap_err();
    assert_eq!(err.api_code(), Some(ErrorCode::Forbidden), "{err}");

    let (hd, log) = env.client("helpdesk", Arc::new(MemoryTokenStore::default()), |_| {});
    hd.login()
        .await
        .unwrap_or_else(|e| panic!("login: {e}\n{}", log_of(&log)));
    assert!(hd.me().await.unwrap().is_helpdesk());

    let found = hd.search_users("dem", None).await.unwrap();
    assert!(found.users.iter().any(|u| u.uid == "demo"), "{found:?}");
    assert_eq!(
        hd.search_users("  ", None).await.unwrap_err().code(),
        "bad_request"
    );

    let devices = hd.user_devices("demo").await.unwrap();
    assert_eq!(devices.len(), 1);
    assert!(hd.user_browsers("demo").await.unwrap().is_empty());

    // A reason is required (checked before sending).
    let err = hd.reset_user_devices("demo", "  ").await.unwrap_err();
    assert!(matches!(
        err,
        ClientError::InvalidInput {
            field: "reason",
            ..
        }
    ));
    assert_eq!(
        hd.user_devices("demo").await.unwrap().len(),
        1,
        "nothing changed"
    );

    let err = hd
        .remove_user_device("demo", "no-such-device", "cleanup")
        .await
        .unwrap_err();
    assert_eq!(err.code(), "not_found", "{err}");
    let err = hd.user_devices("nobody-here").await.unwrap_err();
    assert_eq!(err.code(), "not_found", "{err}");

    let r = hd
        .revoke_user_browsers("demo", "shared computer")
        .await
        .unwrap();
    assert_eq!(r.removed, 0);
    let r = hd.reset_user_devices("demo", "lost phone").await.unwrap();
    assert_eq!(r.removed, 1);
    assert!(hd.user_devices("demo").await.unwrap().is_empty());

    let page = hd.user_activity("demo", None, None).await.unwrap();
    let reset = page
        .events
        .iter()
        .find(|e| e.action == AuditAction::DevicesReset)
        .expect("the reset is audited");
    assert_eq!(reset.reason.as_deref(), Some("lost phone"));
    assert_eq!(reset.actor, "helpdesk");
    assert_eq!(reset.subject, "demo");
}

#[tokio::test]
async fn a_step_up_by_another_account_changes_nothing() {
    let env = env_with(|c| c.step_up_max_age_secs = 3).await;
    let store = Arc::new(MemoryTokenStore::default());
    let (client, log) = env.client("demo", store.clone(), |_| {});
    client
        .login()
        .await
        .unwrap_or_else(|e| panic!("login: {e}\n{}", log_of(&log)));
    // From now on the browser signs in as the help desk.
    let (other, _) = env.browser_spec("helpdesk");
    client.on_open_browser(move |url| tessera_client::browser::open_with_browser_var(&other, url));
    tokio::time::sleep(Duration::from_secs(5)).await;

    let err = client.regenerate_recovery_codes().await.unwrap_err();
    match &err {
        ClientError::WrongUser { expected, got } => {
            assert_eq!((expected.as_str(), got.as_str()), ("demo", "helpdesk"))
        }
        other => panic!("{other:?}"),
    }
    use tessera_client::TokenStore;
    assert_eq!(
        store.load().unwrap().unwrap().subject,
        "demo",
        "the session still belongs to demo"
    );
    assert_eq!(client.session().await.unwrap().unwrap().subject, "demo");
}
