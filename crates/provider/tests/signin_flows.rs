//! Sign-in over real HTTP on 127.0.0.1, on both stores: password-only and
//! 2FA sign-ins, enrolment during sign-in, replay and brute force of codes,
//! trusted browsers, acr handling, prompt=login and max_age.

mod rp;
mod support;

use reqwest::StatusCode;
use rp::{
    AuthRequest, Authenticator, Browser, MFA_CLAIMS, Step, claims, each_env, exchange, sign_in,
};
use tessera_provider::audit::{self, Origin};
use tessera_provider::store::{AuditAction, Device, EncryptedSecret, NewAuditEvent};

/// The audit event of a change to the demo user's account made by the test
/// itself (as the owner would, through the account API).
fn change(action: AuditAction) -> NewAuditEvent {
    audit::event(&Origin::default(), action, "demo", Some("demo"), None, &[])
}

#[tokio::test]
async fn demo_user_signs_in_with_password_and_code_and_gets_mfa_tokens() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let browser = Browser::new(issuer);
        let req = AuthRequest::new();
        let code = app.fresh_code().await;
        let step = env
            .demo_sign_in(
                &browser,
                &req.url(issuer, &[("claims", MFA_CLAIMS)]),
                Some(&code),
            )
            .await;
        let params = step.callback();
        assert_eq!(params["state"], req.state, "{}", env.store_name);
        assert_eq!(params["iss"], issuer);
        let (status, tokens) = exchange(issuer, &req, &params["code"]).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["iss"], issuer);
        assert_eq!(id["sub"], "demo");
        assert_eq!(id["aud"], rp::CLIENT_ID);
        assert_eq!(id["nonce"], req.nonce.as_str());
        assert_eq!(id["acr"], "eidas1-mfa", "first requested value satisfied");
        assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
        assert!(id["auth_time"].as_i64().unwrap() <= id["iat"].as_i64().unwrap());
        let access = tokens["access_token"].as_str().unwrap();
        assert_eq!(rp::header(access)["typ"], "at+jwt");
        let at = claims(access);
        assert_eq!(at["aud"], format!("{issuer}/api"));
        assert_eq!(at["client_id"], rp::CLIENT_ID);
        assert_eq!(at["acr"], "eidas1-mfa");
        assert_eq!(at["scope"], "openid profile email");
        assert_eq!(id["at_hash"], tessera_provider::jwt::at_hash(access));
    }
}

#[tokio::test]
async fn password_only_client_needs_no_code_but_2fa_client_does() {
    for env in each_env(|c| c.mfa.global = false).await {
        let issuer = env.issuer();
        let pw = env.add_user("plain", None, &[]).await;
        // A client that waives MFA, asking for the password level.
        let req =
            AuthRequest::for_client(rp::PASSWORD_ONLY_CLIENT, "http://127.0.0.1:5000/callback");
        let browser = Browser::new(issuer);
        let step = sign_in(
            &browser,
            &req.url(issuer, &[("acr_values", "eidas1")]),
            "plain",
            &pw,
            None,
            false,
        )
        .await;
        let params = step.callback();
        let (status, tokens) = exchange(issuer, &req, &params["code"]).await;
        assert_eq!(status, StatusCode::OK, "{}: {tokens}", env.store_name);
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["acr"], "eidas1");
        assert_eq!(id["amr"], serde_json::json!(["pwd"]));

        // The same user on the 2FA client (claims ask for MFA): the password
        // session is not enough, and with no device they are sent to enrolment.
        let req = AuthRequest::new();
        let step = browser
            .get(&req.url(issuer, &[("claims", MFA_CLAIMS)]))
            .await;
        let html = step.html();
        assert!(html.contains("name=\"otp\""), "{html}");
        assert!(html.contains("data:image/svg+xml;base64,"), "QR code shown");
        assert!(
            !html.contains("name=\"password\""),
            "password not asked again"
        );
    }
}

#[tokio::test]
async fn attribute_policy_requires_a_code_for_matching_users_only() {
    for env in each_env(|c| {
        c.mfa.global = false;
        c.mfa.attribute = Some(tessera_provider::config::AttributeTrigger {
            name: "employeeType".into(),
            value_regex: regex::Regex::new("^(?:admin)$").unwrap(),
        });
    })
    .await
    {
        let issuer = env.issuer();
        let secret = b"attribute-secret-0123".to_vec();
        let admin_pw = env
            .add_user("admin1", Some(&secret), &[("employeeType", "admin")])
            .await;
        let staff_pw = env
            .add_user("staff1", Some(&secret), &[("employeeType", "staff")])
            .await;
        let req =
            AuthRequest::for_client(rp::PASSWORD_ONLY_CLIENT, "http://127.0.0.1:5000/callback");
        let staff = sign_in(
            &Browser::new(issuer),
            &req.url(issuer, &[]),
            "staff1",
            &staff_pw,
            None,
            false,
        )
        .await;
        assert!(staff.callback().contains_key("code"), "{}", env.store_name);
        let admin = sign_in(
            &Browser::new(issuer),
            &req.url(issuer, &[]),
            "admin1",
            &admin_pw,
            None,
            false,
        )
        .await;
        assert!(
            admin.html().contains("name=\"otp\""),
            "admin must give a code"
        );
    }
}

#[tokio::test]
async fn enrolment_during_sign_in_completes_with_one_code_which_does_not_block_the_next_sign_in() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let pw = env.add_user("newbie", None, &[]).await;
        let browser = Browser::new(issuer);
        let req = AuthRequest::new();
        let page = browser
            .get(&req.url(issuer, &[("claims", MFA_CLAIMS)]))
            .await;
        let enrol = browser
            .submit(&page, &[("username", "newbie"), ("password", &pw)])
            .await;
        // The secret is shown in groups of four; read it back like a person would.
        let grouped = shown_secret(enrol.html());
        assert!(grouped.split(' ').all(|g| g.len() <= 4), "{grouped}");
        let secret = rp::decode_b32(&grouped.replace(' ', ""));
        let mut app = Authenticator::new(&secret);
        let code = app.fresh_code().await;
        let codes_page = browser.submit(&enrol, &[("otp", &code)]).await;
        let codes = shown_recovery_codes(codes_page.html());
        assert_eq!(codes.len(), 10, "{}", codes_page.html());
        // Nothing is issued until the user says they saved the codes.
        assert_eq!(browser.cookie("tessera_session"), None);
        let params = browser
            .submit(&codes_page, &[("saved", "1")])
            .await
            .callback()
            .clone();
        let (status, tokens) = exchange(issuer, &req, &params["code"]).await;
        assert_eq!(status, StatusCode::OK, "{}: {tokens}", env.store_name);
        assert_eq!(
            claims(tokens["id_token"].as_str().unwrap())["acr"],
            "eidas1-mfa"
        );
        assert_eq!(
            env.store.list_devices("newbie").await.unwrap().len(),
            1,
            "device stored"
        );

        // A new browser signs in at once with the very same code: the
        // confirming code was not recorded as used (the CAS defect).
        let req2 = AuthRequest::new();
        let again = sign_in(
            &Browser::new(issuer),
            &req2.url(issuer, &[("claims", MFA_CLAIMS)]),
            "newbie",
            &pw,
            Some(&code),
            false,
        )
        .await;
        assert!(again.callback().contains_key("code"), "{}", env.store_name);
    }
}

/// An account that reached the most apps allowed while its sign-in was
/// enrolling one (through the account API) gets a page saying so, and the app
/// is not added.
#[tokio::test]
async fn an_enrolment_at_sign_in_beyond_the_most_apps_allowed_is_explained() {
    for env in each_env(|c| c.max_devices_per_user = 1).await {
        let issuer = env.issuer();
        let pw = env.add_user("newbie", None, &[]).await;
        let browser = Browser::new(issuer);
        let page = browser
            .get(&AuthRequest::new().url(issuer, &[("claims", MFA_CLAIMS)]))
            .await;
        let enrol = browser
            .submit(&page, &[("username", "newbie"), ("password", &pw)])
            .await;
        let secret = rp::decode_b32(&shown_secret(enrol.html()).replace(' ', ""));
        // Meanwhile the account API adds the one app allowed.
        let added = Device {
            id: "dev-added-meanwhile".into(),
            uid: "newbie".into(),
            name: "Phone".into(),
            secret: EncryptedSecret(
                env.provider
                    .app
                    .secret_key
                    .seal(b"another-20-byte-key!", "newbie"),
            ),
            registered_at: time::OffsetDateTime::now_utc(),
            last_used_at: None,
        };
        env.store.create_device(&added).await.unwrap();

        let code = Authenticator::new(&secret).fresh_code().await;
        let refused = browser.submit(&enrol, &[("otp", &code)]).await;
        let (status, html) = refused.page();
        assert_eq!(*status, StatusCode::CONFLICT, "{}", env.store_name);
        assert!(
            html.contains("the most authenticator apps allowed"),
            "{html}"
        );
        let ids: Vec<String> = env
            .store
            .list_devices("newbie")
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(ids, ["dev-added-meanwhile"], "{}", env.store_name);
    }
}

/// The secret of the enrolment page, as shown (in groups of four).
fn shown_secret(html: &str) -> &str {
    let start =
        html.find("<code id=\"secret\">").expect("secret shown") + "<code id=\"secret\">".len();
    &html[start..start + html[start..].find('<').unwrap()]
}

/// The recovery codes listed on the page after a first enrolment.
fn shown_recovery_codes(html: &str) -> Vec<String> {
    let Some(start) = html.find("<ol class=\"codes\" id=\"recovery-codes\">") else {
        return Vec::new();
    };
    let list = &html[start..start + html[start..].find("</ol>").unwrap()];
    list.split("<li><code>")
        .skip(1)
        .map(|item| item[..item.find("</code>").unwrap()].to_owned())
        .collect()
}

/// Signs `uid` (no device yet) in up to the page of recovery codes shown
/// after the enrolling code; returns it.
async fn enrol_at_sign_in(
    browser: &Browser,
    url: &str,
    uid: &str,
    pw: &str,
    fields: &[(&str, &str)],
) -> Step {
    let page = browser.get(url).await;
    let enrol = browser
        .submit(&page, &[("username", uid), ("password", pw)])
        .await;
    let secret = rp::decode_b32(&shown_secret(enrol.html()).replace(' ', ""));
    let code = Authenticator::new(&secret).fresh_code().await;
    let mut form = vec![("otp", code.as_str())];
    form.extend_from_slice(fields);
    browser.submit(&enrol, &form).await
}

#[tokio::test]
async fn a_first_enrolment_at_sign_in_shows_recovery_codes_once_and_they_sign_in() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let pw = env.add_user("newbie", None, &[]).await;
        let browser = Browser::new(issuer);
        let req = AuthRequest::new();
        let url = req.url(issuer, &[("claims", MFA_CLAIMS)]);
        let codes_page =
            enrol_at_sign_in(&browser, &url, "newbie", &pw, &[("trust_browser", "on")]).await;
        let code_typed = time::OffsetDateTime::now_utc().unix_timestamp();
        let (status, html) = codes_page.page();
        assert_eq!(*status, StatusCode::OK, "{}", env.store_name);
        assert!(html.contains("Save your recovery codes"), "{html}");
        let codes = shown_recovery_codes(html);
        assert_eq!(codes.len(), 10, "{html}");
        let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
        assert_eq!(distinct.len(), 10, "{codes:?}");
        // The download link is the same list, one code per line.
        let lines: String = codes.iter().map(|c| format!("{c}%0A")).collect();
        assert!(
            html.contains(&format!(
                "href=\"data:text/plain;charset=utf-8,{lines}\" download=\"recovery-codes.txt\""
            )),
            "{html}"
        );
        // Trusting the browser was asked with the code: it is trusted now.
        assert!(browser.cookie("tessera_trusted").is_some());

        // Shown once: the same sign-in page, shown again, lists none.
        let tx = rp::hidden_inputs(html)
            .into_iter()
            .find(|(k, _)| k == "tx")
            .unwrap()
            .1;
        let shown_again = browser.get(&format!("{issuer}/signin?tx={tx}")).await;
        let again = shown_again.html();
        assert!(shown_recovery_codes(again).is_empty(), "{again}");
        assert!(!again.contains(&codes[0]), "{again}");
        assert!(again.contains("are not shown again"), "{again}");
        // A reload of the page sends the code form again: the page again,
        // without the codes, and nothing issued.
        let resent = browser.submit(&codes_page, &[("otp", "123456")]).await;
        let resent_html = resent.html();
        assert!(resent_html.contains("are not shown again"), "{resent_html}");
        assert_eq!(browser.cookie("tessera_session"), None);

        // "I have saved them" completes the sign-in, from either page; the
        // session's auth_time is when the code was typed, not the click
        // (which comes a second later: auth_time counts seconds).
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
        let params = browser
            .submit(&shown_again, &[("saved", "1")])
            .await
            .callback()
            .clone();
        let (status, tokens) = exchange(issuer, &req, &params["code"]).await;
        assert_eq!(status, StatusCode::OK, "{}: {tokens}", env.store_name);
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
        let auth_time = id["auth_time"].as_i64().unwrap();
        assert!(auth_time <= code_typed, "{id}");
        // The sign-in is over: its pages cannot complete it again.
        let late = browser.submit(&codes_page, &[("saved", "1")]).await;
        assert_eq!(*late.page().0, StatusCode::GONE, "{}", env.store_name);

        // Each code signs in once in place of a code from the app.
        let fresh = || Browser::new(issuer);
        let url2 = AuthRequest::new().url(issuer, &[("claims", MFA_CLAIMS)]);
        let with_code = sign_in(&fresh(), &url2, "newbie", &pw, Some(&codes[3]), false).await;
        assert!(
            with_code.callback().contains_key("code"),
            "{}",
            env.store_name
        );
        let url3 = AuthRequest::new().url(issuer, &[("claims", MFA_CLAIMS)]);
        let reused = sign_in(&fresh(), &url3, "newbie", &pw, Some(&codes[3]), false).await;
        assert_eq!(
            *reused.page().0,
            StatusCode::UNAUTHORIZED,
            "{}",
            env.store_name
        );
        let actions: Vec<_> = env
            .store
            .list_audit("newbie", None, 50)
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.event.action)
            .collect();
        assert!(
            actions.contains(&tessera_provider::store::AuditAction::RecoveryCodesRegenerated),
            "{actions:?}"
        );
    }
}

#[tokio::test]
async fn an_account_disabled_while_its_codes_are_shown_is_not_signed_in() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let pw = env.add_user("newbie", None, &[]).await;
        let browser = Browser::new(issuer);
        let url = AuthRequest::new().url(issuer, &[("claims", MFA_CLAIMS)]);
        let codes_page = enrol_at_sign_in(&browser, &url, "newbie", &pw, &[]).await;
        assert_eq!(shown_recovery_codes(codes_page.html()).len(), 10);
        env.store.set_user_disabled("newbie", true).await.unwrap();
        let refused = browser.submit(&codes_page, &[("saved", "1")]).await;
        let (status, html) = refused.page();
        assert_eq!(*status, StatusCode::FORBIDDEN, "{}", env.store_name);
        assert!(html.contains("This account is disabled"), "{html}");
        assert_eq!(browser.cookie("tessera_session"), None);
    }
}

#[tokio::test]
async fn a_code_accepted_once_is_refused_again() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let code = app.fresh_code().await;
        let first = env
            .demo_sign_in(
                &Browser::new(issuer),
                &AuthRequest::new().url(issuer, &[]),
                Some(&code),
            )
            .await;
        assert!(first.callback().contains_key("code"));
        let replay = env
            .demo_sign_in(
                &Browser::new(issuer),
                &AuthRequest::new().url(issuer, &[]),
                Some(&code),
            )
            .await;
        let (status, html) = replay.page();
        assert_eq!(*status, StatusCode::UNAUTHORIZED, "{}", env.store_name);
        assert!(html.contains("already used"), "{html}");
    }
}

/// A code is marked used when it is posted, with its transaction's read
/// and before it is checked; the mark is given back unless the code is
/// accepted. So a code refused unchecked (its transaction unknown, its
/// CSRF token wrong) or refused as wrong is not used up, and a code
/// accepted is refused again whether the form names its account or not.
#[tokio::test]
async fn a_code_is_used_up_only_by_its_acceptance() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let name = env.store_name;
        let store = &env.provider.app.store;
        let mut app = Authenticator::new(&env.demo_secret());
        let browser = Browser::new(issuer);
        let url = AuthRequest::new().url(issuer, &[]);
        let code_form = env.demo_sign_in(&browser, &url, None).await;
        assert!(code_form.html().contains("name=\"otp\""), "{name}");
        let code = app.fresh_code().await;
        let forged = browser
            .submit(&code_form, &[("otp", &code), ("tx", "no-such-transaction")])
            .await;
        assert_eq!(*forged.page().0, StatusCode::GONE, "{name}");
        let cross_site = browser
            .submit(&code_form, &[("otp", &code), ("csrf", "not-the-token")])
            .await;
        assert_eq!(*cross_site.page().0, StatusCode::FORBIDDEN, "{name}");
        for key in ["signin:account:demo", "signin:ip:127.0.0.1"] {
            assert_eq!(
                store.rate_limit_ttl(key).await.unwrap(),
                None,
                "{name}: {key} kept a refused post's attempt"
            );
        }
        // A wrong code leaves no mark behind (its failure stays counted).
        let wrong = if code == "000000" { "000001" } else { "000000" };
        let failed = browser.submit(&code_form, &[("otp", wrong)]).await;
        assert_eq!(*failed.page().0, StatusCode::UNAUTHORIZED, "{name}");
        let wrong_id = tessera_provider::totp::used_code_id("demo", wrong);
        assert!(
            !store.unmark_code_used(&wrong_id).await.unwrap(),
            "{name}: a wrong code stayed marked"
        );
        let done = browser.submit(&failed, &[("otp", &code)]).await;
        assert!(
            done.callback().contains_key("code"),
            "{name}: {}",
            done.html()
        );
        // Replayed through a form that names its account (the mark is set
        // with the transaction's read) and through one that does not (the
        // code stage marks it): refused both ways.
        for named in [true, false] {
            let other = Browser::new(issuer);
            let code_form = env.demo_sign_in(&other, &url, None).await;
            let mut fields = vec![("otp", code.as_str())];
            if !named {
                fields.push(("username", ""));
            }
            let replay = other.submit(&code_form, &fields).await;
            let (status, html) = replay.page();
            assert_eq!(*status, StatusCode::UNAUTHORIZED, "{name}, named {named}");
            assert!(html.contains("already used"), "{name}: {html}");
        }
    }
}

#[tokio::test]
async fn wrong_codes_lock_the_account_with_a_clear_message() {
    for env in each_env(|c| c.rate_limit.account_failures = 3).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let browser = Browser::new(issuer);
        let req = AuthRequest::new();
        let page = browser.get(&req.url(issuer, &[])).await;
        let mut form = browser
            .submit(
                &page,
                &[("username", "demo"), ("password", &env.demo_password())],
            )
            .await;
        for attempt in 1..=3 {
            form = browser.submit(&form, &[("otp", "000000")]).await;
            let (status, html) = form.page();
            if attempt < 3 {
                assert_eq!(*status, StatusCode::UNAUTHORIZED, "{html}");
                assert!(html.contains("not valid"), "{html}");
            } else {
                assert_eq!(*status, StatusCode::TOO_MANY_REQUESTS, "{html}");
                assert!(
                    html.contains("Too many attempts, try again in 15 minutes."),
                    "{html}"
                );
            }
        }
        // Even the right code is refused now, and the password too.
        let good = app.fresh_code().await;
        let locked = browser.submit(&form, &[("otp", &good)]).await;
        assert_eq!(
            *locked.page().0,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            env.store_name
        );
        let fresh = env
            .demo_sign_in(&Browser::new(issuer), &req.url(issuer, &[]), None)
            .await;
        assert_eq!(*fresh.page().0, StatusCode::TOO_MANY_REQUESTS);
        // In French too.
        let mut fr = Browser::new(issuer);
        fr.accept_language = "fr-FR,fr;q=0.9";
        let fr_page = env.demo_sign_in(&fr, &req.url(issuer, &[]), None).await;
        assert!(
            fr_page
                .html()
                .contains("Trop de tentatives, réessayez dans 15 minutes."),
            "{}",
            fr_page.html()
        );
        // Refused unchecked, the right code was not used up: once the lock
        // is lifted (by hand here), it completes the sign-in.
        let store = &env.provider.app.store;
        store.rate_limit_reset("signin:account:demo").await.unwrap();
        let done = browser.submit(&form, &[("otp", &good)]).await;
        assert!(
            done.callback().contains_key("code"),
            "{}: {}",
            env.store_name,
            done.html()
        );
    }
}

/// A password's attempt is counted with its transaction's read, before the
/// transaction is known to be live: posts whose transaction is unknown,
/// whose CSRF token is wrong, or that has gone past its password stage
/// give it back, so that they lock nobody out.
#[tokio::test]
async fn a_password_post_its_transaction_refuses_counts_nothing() {
    for env in each_env(|c| c.rate_limit.account_failures = 2).await {
        let issuer = env.issuer();
        let name = env.store_name;
        let browser = Browser::new(issuer);
        let req = AuthRequest::new();
        let page = browser.get(&req.url(issuer, &[])).await;
        let wrong = [("username", "demo"), ("password", "wrong password")];
        for _ in 0..3 {
            let forged = browser
                .submit(&page, &[wrong[0], wrong[1], ("tx", "no-such-transaction")])
                .await;
            assert_eq!(*forged.page().0, StatusCode::GONE, "{name}");
            let cross_site = browser
                .submit(&page, &[wrong[0], wrong[1], ("csrf", "not-the-token")])
                .await;
            assert_eq!(*cross_site.page().0, StatusCode::FORBIDDEN, "{name}");
        }
        // A transaction past its password stage: the password form posted
        // again shows the code form.
        let other = Browser::new(issuer);
        let first = other.get(&req.url(issuer, &[])).await;
        let code_form = other
            .submit(
                &first,
                &[("username", "demo"), ("password", &env.demo_password())],
            )
            .await;
        assert!(code_form.html().contains("name=\"otp\""), "{name}");
        for _ in 0..3 {
            let again = other.submit(&first, &wrong).await;
            assert!(
                again.html().contains("name=\"otp\""),
                "{name}: {}",
                again.html()
            );
        }
        let store = &env.provider.app.store;
        for key in ["signin:account:demo", "signin:ip:127.0.0.1"] {
            assert_eq!(
                store.rate_limit_ttl(key).await.unwrap(),
                None,
                "{name}: {key} was given back to nothing"
            );
        }
        // The live transaction counts from zero: the second wrong password
        // locks, not the first.
        let failed = browser.submit(&page, &wrong).await;
        assert_eq!(*failed.page().0, StatusCode::UNAUTHORIZED, "{name}");
        let locked = browser.submit(&failed, &wrong).await;
        assert_eq!(*locked.page().0, StatusCode::TOO_MANY_REQUESTS, "{name}");
    }
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_even_for_unknown_users() {
    for env in each_env(|c| c.rate_limit.account_failures = 2).await {
        let issuer = env.issuer();
        let url = AuthRequest::new().url(issuer, &[]);
        for user in ["demo", "nobody"] {
            let browser = Browser::new(issuer);
            let mut page = browser.get(&url).await;
            page = browser
                .submit(&page, &[("username", user), ("password", "wrong")])
                .await;
            assert_eq!(
                *page.page().0,
                StatusCode::UNAUTHORIZED,
                "{}",
                env.store_name
            );
            assert!(page.html().contains("Wrong user name or password."));
            page = browser
                .submit(&page, &[("username", user), ("password", "wrong")])
                .await;
            assert_eq!(*page.page().0, StatusCode::TOO_MANY_REQUESTS, "{user}");
        }
        // The lock-out is in the existing account's trail; a name that is no
        // account (junk, or a password typed in the wrong field) is kept
        // nowhere.
        assert_eq!(audited(&env, "demo", AuditAction::LockedOut).await, 1);
        assert_eq!(audited(&env, "nobody", AuditAction::LockedOut).await, 0);
        // The right password no longer helps, nor does the name typed with
        // spaces around it (it is the same account, so the same lock).
        let step = env.demo_sign_in(&Browser::new(issuer), &url, None).await;
        assert_eq!(*step.page().0, StatusCode::TOO_MANY_REQUESTS);
        let password = env.demo_password();
        for spaced in [" demo", "demo ", "\tdemo  "] {
            let browser = Browser::new(issuer);
            let page = browser.get(&url).await;
            let fields = [("username", spaced), ("password", password.as_str())];
            let step = browser.submit(&page, &fields).await;
            assert_eq!(
                *step.page().0,
                StatusCode::TOO_MANY_REQUESTS,
                "{spaced:?} on {}",
                env.store_name
            );
        }
    }
}

#[tokio::test]
async fn trusted_browser_skips_the_code_until_its_record_is_revoked() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let browser = env
            .trusted_browser(&mut app, &AuthRequest::new().url(issuer, &[]))
            .await;
        let trusted = env.store.list_trusted_browsers("demo").await.unwrap();
        assert_eq!(trusted.len(), 1, "{}", env.store_name);
        assert_eq!(trusted[0].name, "Firefox on Linux");

        // prompt=login: the password is asked again, the code is not.
        let req = AuthRequest::new();
        let page = browser
            .get(&req.url(issuer, &[("prompt", "login"), ("claims", MFA_CLAIMS)]))
            .await;
        let step = browser
            .submit(
                &page,
                &[("username", "demo"), ("password", &env.demo_password())],
            )
            .await;
        let (status, tokens) = exchange(issuer, &req, &step.callback()["code"]).await;
        assert_eq!(status, StatusCode::OK);
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["acr"], "eidas1-mfa");
        assert_eq!(id["amr"], serde_json::json!(["pwd", "mfa"]));

        // A second trusted browser; revoking the first leaves the second.
        let other = env
            .trusted_browser(&mut app, &AuthRequest::new().url(issuer, &[]))
            .await;
        let records = env.store.list_trusted_browsers("demo").await.unwrap();
        assert_eq!(records.len(), 2);
        let first_id = &trusted[0].id;
        assert!(
            env.store
                .revoke_trusted_browser("demo", first_id, &change(AuditAction::BrowserRevoked))
                .await
                .unwrap()
        );
        let step = env
            .demo_sign_in(
                &browser,
                &AuthRequest::new().url(issuer, &[("prompt", "login")]),
                None,
            )
            .await;
        assert!(
            step.html().contains("name=\"otp\""),
            "revoked browser must give a code again"
        );
        let step = env
            .demo_sign_in(
                &other,
                &AuthRequest::new().url(issuer, &[("prompt", "login")]),
                None,
            )
            .await;
        assert!(
            step.callback().contains_key("code"),
            "the other browser is still trusted"
        );
    }
}

/// An account whose last device was removed (allowed when 2FA is not
/// required of everyone) has no second factor: neither the browser session
/// nor the browser's trust, both established with the removed device's code,
/// may stand in for one. The user enrols again. (A help-desk reset goes
/// further: see `a_helpdesk_reset_ends_what_earlier_sign_ins_proved`.)
#[tokio::test]
async fn without_devices_neither_the_session_nor_a_trusted_browser_replaces_enrolment() {
    // Second factors asked by the request (claims), not by a global policy,
    // so that a password-only client can be answered from the session.
    for env in each_env(|c| c.mfa.global = false).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let browser = env
            .trusted_browser(
                &mut app,
                &AuthRequest::new().url(issuer, &[("claims", MFA_CLAIMS)]),
            )
            .await;
        assert_eq!(
            env.store.list_trusted_browsers("demo").await.unwrap().len(),
            1
        );
        for device in env.store.list_devices("demo").await.unwrap() {
            let event = change(AuditAction::DeviceDeleted);
            assert!(
                env.store
                    .delete_device("demo", &device.id, &event)
                    .await
                    .unwrap()
            );
        }

        let asks_to_enrol = |step: &rp::Step, what: &str| {
            let (status, html) = step.page();
            assert!(
                html.contains("<code id=\"secret\">"),
                "{what} on {}: {status}\n{html}",
                env.store_name
            );
        };
        // The session (signed in with a code) asks for an app to be set up.
        let step = browser
            .get(&AuthRequest::new().url(issuer, &[("claims", MFA_CLAIMS)]))
            .await;
        asks_to_enrol(&step, "the session");
        // So does the password in the trusted browser.
        let url = AuthRequest::new().url(issuer, &[("prompt", "login"), ("claims", MFA_CLAIMS)]);
        asks_to_enrol(
            &env.demo_sign_in(&browser, &url, None).await,
            "the trusted browser",
        );
        // And a silent request cannot be answered.
        let step = browser
            .get(&AuthRequest::new().url(issuer, &[("prompt", "none"), ("claims", MFA_CLAIMS)]))
            .await;
        assert_eq!(step.callback()["error"], "interaction_required");
        // A client content with a password is answered from the session,
        // which no longer claims the second factor.
        let req =
            AuthRequest::for_client(rp::PASSWORD_ONLY_CLIENT, "http://127.0.0.1:5000/callback");
        let step = browser
            .get(&req.url(issuer, &[("acr_values", "eidas1")]))
            .await;
        let (status, tokens) = exchange(issuer, &req, &step.callback()["code"]).await;
        assert_eq!(status, StatusCode::OK, "{}: {tokens}", env.store_name);
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["acr"], "eidas1");
        assert_eq!(id["amr"], serde_json::json!(["pwd"]));
        // The trust record itself is left to the user's own action.
        assert_eq!(
            env.store.list_trusted_browsers("demo").await.unwrap().len(),
            1
        );
    }
}

#[tokio::test]
async fn unsatisfiable_essential_acr_is_access_denied_and_unknown_values_are_ignored() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let browser = Browser::new(issuer);
        let req = AuthRequest::new();
        let claims_eidas3 = r#"{"id_token":{"acr":{"essential":true,"values":["eidas3"]}}}"#;
        let step = browser
            .get(&req.url(issuer, &[("claims", claims_eidas3)]))
            .await;
        let params = step.callback();
        assert_eq!(params["error"], "access_denied", "{}", env.store_name);
        assert_eq!(params["state"], req.state);
        assert_eq!(params["iss"], issuer);
        let step = browser
            .get(&req.url(issuer, &[("acr_values", "eidas2 eidas3")]))
            .await;
        assert_eq!(step.callback()["error"], "access_denied");

        // Unknown values next to an offered one are dropped.
        let mut app = Authenticator::new(&env.demo_secret());
        let code = app.fresh_code().await;
        let mixed = r#"{"id_token":{"acr":{"essential":true,"values":["eidas3","https://refeds.org/profile/mfa"]}}}"#;
        let req = AuthRequest::new();
        let step = env
            .demo_sign_in(
                &browser,
                &req.url(issuer, &[("claims", mixed)]),
                Some(&code),
            )
            .await;
        let (_, tokens) = exchange(issuer, &req, &step.callback()["code"]).await;
        assert_eq!(
            claims(tokens["id_token"].as_str().unwrap())["acr"],
            "https://refeds.org/profile/mfa"
        );
    }
}

#[tokio::test]
async fn a_password_only_level_with_an_mfa_name_can_be_configured() {
    // The switch the client's "acr outside the list is refused" test uses.
    for env in each_env(|c| {
        c.acr.push(tessera_provider::config::AcrLevel {
            value: "eidas2".into(),
            requires_mfa: false,
        });
        c.mfa.global = false;
    })
    .await
    {
        let issuer = env.issuer();
        let req =
            AuthRequest::for_client(rp::PASSWORD_ONLY_CLIENT, "http://127.0.0.1:5000/callback");
        let step = env
            .demo_sign_in(
                &Browser::new(issuer),
                &req.url(issuer, &[("acr_values", "eidas2")]),
                None,
            )
            .await;
        let (_, tokens) = exchange(issuer, &req, &step.callback()["code"]).await;
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["acr"], "eidas2", "{}", env.store_name);
        assert_eq!(id["amr"], serde_json::json!(["pwd"]));
    }
}

#[tokio::test]
async fn session_is_reused_unless_prompt_login_or_max_age_demand_a_new_sign_in() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let browser = Browser::new(issuer);
        let code = app.fresh_code().await;
        let first_req = AuthRequest::new();
        let first = env
            .demo_sign_in(&browser, &first_req.url(issuer, &[]), Some(&code))
            .await;
        let (_, t1) = exchange(issuer, &first_req, &first.callback()["code"]).await;
        let auth_time = claims(t1["id_token"].as_str().unwrap())["auth_time"].clone();

        // SSO: a second request is answered from the session, same auth_time.
        let req = AuthRequest::new();
        let step = browser
            .get(&req.url(issuer, &[("max_age", "3600"), ("claims", MFA_CLAIMS)]))
            .await;
        let (_, t2) = exchange(issuer, &req, &step.callback()["code"]).await;
        assert_eq!(
            claims(t2["id_token"].as_str().unwrap())["auth_time"],
            auth_time,
            "{}",
            env.store_name
        );

        // prompt=login and max_age=0 show the password form again.
        for extra in [("prompt", "login"), ("max_age", "0")] {
            let step = browser.get(&AuthRequest::new().url(issuer, &[extra])).await;
            assert!(step.html().contains("name=\"password\""), "{extra:?}");
        }
        // The re-authentication replaced the session: the old cookie is dead.
        let before = browser.cookie("tessera_session").unwrap();
        let req = AuthRequest::new();
        let page = browser.get(&req.url(issuer, &[("prompt", "login")])).await;
        let code = app.fresh_code().await;
        let pw_done = browser
            .submit(
                &page,
                &[("username", "demo"), ("password", &env.demo_password())],
            )
            .await;
        browser.submit(&pw_done, &[("otp", &code)]).await.callback();
        let after = browser.cookie("tessera_session").unwrap();
        assert_ne!(before, after);
        let stale = Browser::with_cookie(issuer, Some(("tessera_session", &before)));
        assert!(
            stale
                .get(&AuthRequest::new().url(issuer, &[]))
                .await
                .html()
                .contains("name=\"password\"")
        );
        let current = Browser::with_cookie(issuer, Some(("tessera_session", &after)));
        assert!(
            current
                .get(&AuthRequest::new().url(issuer, &[]))
                .await
                .callback()
                .contains_key("code")
        );

        // prompt=none without a session: login_required.
        let step = Browser::new(issuer)
            .get(&AuthRequest::new().url(issuer, &[("prompt", "none")]))
            .await;
        assert_eq!(step.callback()["error"], "login_required");
    }
}

#[tokio::test]
async fn forged_or_cross_browser_form_posts_are_refused() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let browser = Browser::new(issuer);
        let page = browser.get(&AuthRequest::new().url(issuer, &[])).await;
        // Wrong CSRF token.
        let html = page
            .html()
            .replace("name=\"csrf\" value=\"", "name=\"csrf\" value=\"x");
        let forged = Step::Page {
            status: StatusCode::OK,
            url: url::Url::parse(issuer).unwrap(),
            html,
        };
        let step = browser
            .submit(
                &forged,
                &[("username", "demo"), ("password", &env.demo_password())],
            )
            .await;
        assert_eq!(*step.page().0, StatusCode::FORBIDDEN, "{}", env.store_name);
        // Another browser (without the binding cookie) posting the genuine form.
        let step = Browser::new(issuer)
            .submit(
                &page,
                &[("username", "demo"), ("password", &env.demo_password())],
            )
            .await;
        assert_eq!(*step.page().0, StatusCode::GONE);
        // The page carries a strict CSP and no script.
        assert!(!page.html().contains("<script"));
    }
}

#[tokio::test]
async fn bad_authorize_requests_get_a_page_or_an_error_redirect() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let browser = Browser::new(issuer);
        let req = AuthRequest::new();
        // Unknown client or unregistered redirect URI: a page, never a redirect.
        let bad_client = AuthRequest::for_client("nope", rp::REDIRECT_URI);
        assert_eq!(
            *browser.get(&bad_client.url(issuer, &[])).await.page().0,
            StatusCode::BAD_REQUEST
        );
        let bad_redirect =
            AuthRequest::for_client(rp::CLIENT_ID, "http://127.0.0.1:4000/elsewhere");
        let step = browser.get(&bad_redirect.url(issuer, &[])).await;
        assert!(
            step.html().contains("redirect_uri is not registered"),
            "{}",
            env.store_name
        );
        let evil = AuthRequest::for_client(rp::CLIENT_ID, "https://evil.example/callback");
        assert_eq!(
            *browser.get(&evil.url(issuer, &[])).await.page().0,
            StatusCode::BAD_REQUEST
        );
        // Validated client and redirect: errors go back as OAuth errors.
        let no_pkce = req
            .url(issuer, &[])
            .replace("code_challenge_method=S256", "code_challenge_method=plain");
        assert_eq!(
            browser.get(&no_pkce).await.callback()["error"],
            "invalid_request"
        );
        let bad_claims = browser
            .get(&req.url(issuer, &[("claims", "{not json")]))
            .await;
        assert_eq!(bad_claims.callback()["error"], "invalid_request");
        let repeated = format!("{}&state=again", req.url(issuer, &[]));
        assert_eq!(
            *browser.get(&repeated).await.page().0,
            StatusCode::BAD_REQUEST
        );
        let no_openid = req
            .url(issuer, &[])
            .replace("scope=openid+profile+email", "scope=profile");
        assert_eq!(
            browser.get(&no_openid).await.callback()["error"],
            "invalid_scope"
        );
    }
}

#[tokio::test]
async fn recovery_codes_are_accepted_once_in_the_otp_field_and_regeneration_voids_them() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let regenerated = change(AuditAction::RecoveryCodesRegenerated);
        let codes = tessera_provider::recovery::regenerate(
            &*env.store,
            &env.provider.app.secret_key,
            "demo",
            &regenerated,
        )
        .await
        .unwrap();
        assert_eq!(codes.len(), 10);
        let first = secrecy::ExposeSecret::expose_secret(&codes[0]).to_owned();
        // Typed in capitals with a space instead of the dash: still accepted.
        let typed = first.to_uppercase().replace('-', " ");
        let req = AuthRequest::new();
        let step = env
            .demo_sign_in(
                &Browser::new(issuer),
                &req.url(issuer, &[("claims", MFA_CLAIMS)]),
                Some(&typed),
            )
            .await;
        let (_, tokens) = exchange(issuer, &req, &step.callback()["code"]).await;
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["acr"], "eidas1-mfa", "{}", env.store_name);
        // A one-time code typed now: it counts for the account API's step-up.
        assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));
        assert_eq!(env.store.count_recovery_codes("demo").await.unwrap(), 9);

        let again = env
            .demo_sign_in(
                &Browser::new(issuer),
                &AuthRequest::new().url(issuer, &[]),
                Some(&first),
            )
            .await;
        assert_eq!(*again.page().0, StatusCode::UNAUTHORIZED, "single use");

        let second = secrecy::ExposeSecret::expose_secret(&codes[1]).to_owned();
        tessera_provider::recovery::regenerate(
            &*env.store,
            &env.provider.app.secret_key,
            "demo",
            &regenerated,
        )
        .await
        .unwrap();
        let void = env
            .demo_sign_in(
                &Browser::new(issuer),
                &AuthRequest::new().url(issuer, &[]),
                Some(&second),
            )
            .await;
        assert_eq!(
            *void.page().0,
            StatusCode::UNAUTHORIZED,
            "previous set is void"
        );
    }
}

#[tokio::test]
async fn pages_speak_french_or_english_by_accept_language() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let url = AuthRequest::new().url(issuer, &[]);
        let mut fr = Browser::new(issuer);
        fr.accept_language = "fr-CA,fr;q=0.9,en;q=0.5";
        let page = fr.get(&url).await;
        assert!(
            page.html().contains("<html lang=\"fr\">") && page.html().contains("Mot de passe"),
            "{}",
            env.store_name
        );
        let wrong = fr
            .submit(&page, &[("username", "demo"), ("password", "nope")])
            .await;
        assert!(
            wrong
                .html()
                .contains("Identifiant ou mot de passe incorrect.")
        );
        let en = Browser::new(issuer).get(&url).await;
        assert!(en.html().contains("<html lang=\"en\">") && en.html().contains("Password"));
        // The code form names its fields exactly as documented.
        let otp = fr
            .submit(
                &wrong,
                &[("username", "demo"), ("password", &env.demo_password())],
            )
            .await;
        assert!(
            otp.html().contains("name=\"otp\"") && otp.html().contains("name=\"trust_browser\"")
        );
        assert!(otp.html().contains("Validation en deux étapes"));
        // ui_locales from the client wins over Accept-Language.
        let asked_fr = AuthRequest::new().url(issuer, &[("ui_locales", "fr en")]);
        let page = Browser::new(issuer).get(&asked_fr).await;
        assert!(
            page.html().contains("<html lang=\"fr\">"),
            "{}",
            page.html()
        );
    }
}

/// How many events of `action` the audit log holds about `subject`.
async fn audited(env: &rp::Env, subject: &str, action: AuditAction) -> usize {
    let events = env.store.list_audit(subject, None, 200).await.unwrap();
    events.iter().filter(|e| e.event.action == action).count()
}

/// Sends each form of `pages` with `fields` at the same time, each from its
/// own browser; the answers' statuses.
async fn post_concurrently(
    pages: Vec<(Browser, Step)>,
    fields: &[(&'static str, &'static str)],
) -> Vec<StatusCode> {
    let posts: Vec<_> = pages
        .into_iter()
        .map(|(browser, page)| {
            let fields = fields.to_vec();
            tokio::spawn(async move { *browser.submit(&page, &fields).await.page().0 })
        })
        .collect();
    let mut statuses = Vec::new();
    for post in posts {
        statuses.push(post.await.unwrap());
    }
    statuses
}

#[tokio::test]
async fn concurrent_guesses_are_checked_no_more_often_than_the_threshold_allows() {
    for env in each_env(|c| {
        c.rate_limit.account_failures = 3;
        c.rate_limit.ip_failures = 100;
    })
    .await
    {
        let issuer = env.issuer();
        let url = AuthRequest::new().url(issuer, &[]);
        let password = env.demo_password();
        // Twelve browsers at the code form (a right password is not a
        // failure: none of them counts), then twelve wrong codes at once.
        let mut at_code_form = Vec::new();
        for _ in 0..12 {
            let browser = Browser::new(issuer);
            let page = browser.get(&url).await;
            let form = browser
                .submit(&page, &[("username", "demo"), ("password", &password)])
                .await;
            assert!(form.html().contains("name=\"otp\""), "{}", form.html());
            at_code_form.push((browser, form));
        }
        let statuses = post_concurrently(at_code_form, &[("otp", "000000")]).await;
        let wrong = statuses
            .iter()
            .filter(|s| **s == StatusCode::UNAUTHORIZED)
            .count();
        let locked = statuses
            .iter()
            .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
            .count();
        assert_eq!((wrong, locked), (2, 10), "{}: {statuses:?}", env.store_name);
        // Only three codes were checked at all: the others were refused
        // before, so a right code among them would not have got through.
        assert_eq!(
            audited(&env, "demo", AuditAction::SecondFactorFailed).await,
            3,
            "{}",
            env.store_name
        );

        // The same for passwords, on another account.
        let other = env.add_user("carol", None, &[]).await;
        let mut at_password_form = Vec::new();
        for _ in 0..12 {
            let browser = Browser::new(issuer);
            let page = browser.get(&url).await;
            at_password_form.push((browser, page));
        }
        let statuses = post_concurrently(
            at_password_form,
            &[("username", "carol"), ("password", "wrong")],
        )
        .await;
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == StatusCode::UNAUTHORIZED)
                .count(),
            2,
            "{}: {statuses:?}",
            env.store_name
        );
        assert_eq!(
            audited(&env, "carol", AuditAction::SignInFailed).await,
            3,
            "{}",
            env.store_name
        );
        let step = sign_in(&Browser::new(issuer), &url, "carol", &other, None, false).await;
        assert_eq!(*step.page().0, StatusCode::TOO_MANY_REQUESTS);
    }
}

#[tokio::test]
async fn attempts_that_are_not_failures_are_given_back() {
    for env in each_env(|c| {
        c.rate_limit.account_failures = 2;
        c.rate_limit.ip_failures = 2;
    })
    .await
    {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let url = AuthRequest::new().url(issuer, &[]);
        let password = env.demo_password();
        // Right passwords, forms sent without their code, one failure: with
        // each of them counted the address would be locked after two.
        let browser = Browser::new(issuer);
        let mut form = browser.get(&url).await;
        for _ in 0..4 {
            let page = browser.get(&url).await;
            form = browser
                .submit(&page, &[("username", "demo"), ("password", &password)])
                .await;
            assert_eq!(*form.page().0, StatusCode::OK, "{}", env.store_name);
            let missing = browser.submit(&form, &[]).await;
            assert_eq!(
                *missing.page().0,
                StatusCode::BAD_REQUEST,
                "{}",
                missing.html()
            );
        }
        let wrong = browser.submit(&form, &[("otp", "000000")]).await;
        assert_eq!(
            *wrong.page().0,
            StatusCode::UNAUTHORIZED,
            "{}",
            wrong.html()
        );
        // A completed sign-in clears the account's failure and gives its
        // own attempt back: the address has one failure of two, and a
        // completed sign-in's attempt must not be what locks it.
        let code = app.fresh_code().await;
        let done = browser.submit(&form, &[("otp", &code)]).await;
        assert!(done.callback().contains_key("code"), "{}", env.store_name);
        for _ in 0..3 {
            let step = sign_in(&Browser::new(issuer), &url, "demo", &password, None, false).await;
            assert_eq!(*step.page().0, StatusCode::OK, "{}", env.store_name);
        }
        // The one failure still counts: one more locks the address.
        let step = sign_in(&Browser::new(issuer), &url, "nobody", "wrong", None, false).await;
        assert_eq!(
            *step.page().0,
            StatusCode::TOO_MANY_REQUESTS,
            "{}",
            step.html()
        );
    }
}

#[tokio::test]
async fn failures_from_one_address_lock_it_whatever_the_account() {
    for env in each_env(|c| {
        c.rate_limit.ip_failures = 3;
        c.rate_limit.account_failures = 100;
    })
    .await
    {
        let issuer = env.issuer();
        let url = AuthRequest::new().url(issuer, &[]);
        for (i, user) in ["a1", "a2", "a3"].iter().enumerate() {
            let step = sign_in(&Browser::new(issuer), &url, user, "wrong", None, false).await;
            let expected = if i < 2 {
                StatusCode::UNAUTHORIZED
            } else {
                StatusCode::TOO_MANY_REQUESTS
            };
            assert_eq!(*step.page().0, expected, "{} {user}", env.store_name);
        }
        // Another account from the same address, with the right password: locked too.
        let step = env.demo_sign_in(&Browser::new(issuer), &url, None).await;
        assert_eq!(*step.page().0, StatusCode::TOO_MANY_REQUESTS);
        assert!(step.html().contains("Too many attempts"));
    }
}

#[tokio::test]
async fn one_post_with_password_and_code_completes_the_sign_in() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let password = env.demo_password();
        let mut app = Authenticator::new(&env.demo_secret());
        let browser = Browser::new(issuer);
        let req = AuthRequest::new();
        let page = browser
            .get(&req.url(issuer, &[("claims", MFA_CLAIMS)]))
            .await;
        let code = app.fresh_code().await;
        let fields = [
            ("username", "demo"),
            ("password", password.as_str()),
            ("otp", code.as_str()),
        ];
        let done = browser.submit(&page, &fields).await;
        let (status, tokens) = exchange(issuer, &req, &done.callback()["code"]).await;
        assert_eq!(status, StatusCode::OK, "{}", env.store_name);
        assert_eq!(
            claims(tokens["id_token"].as_str().unwrap())["amr"],
            serde_json::json!(["pwd", "otp", "mfa"])
        );
        // A wrong code in the same post: the password is taken, the code form says why.
        let other = Browser::new(issuer);
        let page = other.get(&AuthRequest::new().url(issuer, &[])).await;
        let fields = [
            ("username", "demo"),
            ("password", password.as_str()),
            ("otp", "000000"),
        ];
        let wrong = other.submit(&page, &fields).await;
        let (status, html) = wrong.page();
        assert_eq!(*status, StatusCode::UNAUTHORIZED);
        assert!(
            html.contains("not valid")
                && html.contains("name=\"otp\"")
                && !html.contains("name=\"password\""),
            "{html}"
        );
    }
}

#[tokio::test]
async fn each_form_is_the_answer_itself_and_sending_the_password_again_counts_nothing() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let password = env.demo_password();
        let req = AuthRequest::new();
        let authorize = req.url(issuer, &[("claims", MFA_CLAIMS)]);
        // The authorization endpoint answers with the password form itself
        // (no redirect), bound to this browser and never cached.
        let raw = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(&authorize)
            .send()
            .await
            .unwrap();
        assert_eq!(raw.status(), StatusCode::OK, "{}", env.store_name);
        assert_eq!(raw.headers()["cache-control"], "no-store");
        let cookie = raw.headers()["set-cookie"].to_str().unwrap();
        assert!(cookie.starts_with("tessera_signin="), "{cookie}");
        assert!(raw.text().await.unwrap().contains("name=\"password\""));

        let browser = Browser::new(issuer);
        let login = browser.get(&authorize).await;
        let Step::Page { url, .. } = &login else {
            panic!("no page")
        };
        assert_eq!(url.path(), "/authorize");
        let fields = [("username", "demo"), ("password", password.as_str())];
        // The password post answers with the code form (no redirect).
        let code_form = browser.submit(&login, &fields).await;
        let Step::Page { status, url, html } = &code_form else {
            panic!("no page")
        };
        assert_eq!((*status, url.path()), (StatusCode::OK, "/signin"));
        assert!(html.contains("name=\"otp\"") && !html.contains("name=\"password\""));
        // Reloading that answer posts the password form again: the code
        // form again, without an error, however often (more often than
        // the lock-out threshold), and the sign-in goes on.
        for _ in 0..7 {
            let again = browser.submit(&login, &fields).await;
            let (status, html) = again.page();
            assert_eq!(*status, StatusCode::OK, "{}", env.store_name);
            assert!(
                html.contains("name=\"otp\"") && !html.contains("class=\"error\""),
                "{html}"
            );
        }
        let mut app = Authenticator::new(&env.demo_secret());
        let code = app.fresh_code().await;
        let done = browser.submit(&code_form, &[("otp", code.as_str())]).await;
        let (status, tokens) = exchange(issuer, &req, &done.callback()["code"]).await;
        assert_eq!(status, StatusCode::OK, "{}: {tokens}", env.store_name);
    }
}

/// A remembered browser stands in for the code at an ordinary sign-in, but
/// not when the client asks for a recent one (`max_age`, the account API's
/// step-up): the code is asked, whether the password is typed again or a
/// session (itself opened by the remembered browser) would answer.
#[tokio::test]
async fn a_remembered_browser_does_not_answer_a_request_for_a_recent_sign_in() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let browser = env
            .trusted_browser(&mut app, &AuthRequest::new().url(issuer, &[]))
            .await;

        // An ordinary new sign-in: the password, and the browser's trust.
        let url = AuthRequest::new().url(issuer, &[("prompt", "login")]);
        let step = env.demo_sign_in(&browser, &url, None).await;
        assert!(step.callback().contains_key("code"), "{}", env.store_name);

        // The same with max_age: the code is asked after the password…
        let req = AuthRequest::new();
        let url = req.url(issuer, &[("prompt", "login"), ("max_age", "600")]);
        let step = env.demo_sign_in(&browser, &url, None).await;
        assert!(
            step.html().contains("name=\"otp\""),
            "{}: {}",
            env.store_name,
            step.html()
        );
        // …and with it the sign-in says a code was typed.
        let code = app.fresh_code().await;
        let done = browser.submit(&step, &[("otp", &code)]).await;
        let (_, tokens) = exchange(issuer, &req, &done.callback()["code"]).await;
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["amr"], serde_json::json!(["pwd", "otp", "mfa"]));

        // A session opened by the remembered browser alone does not answer
        // max_age either, though it is recent enough.
        let url = AuthRequest::new().url(issuer, &[("prompt", "login")]);
        assert!(
            env.demo_sign_in(&browser, &url, None)
                .await
                .callback()
                .contains_key("code")
        );
        let step = browser
            .get(&AuthRequest::new().url(issuer, &[("max_age", "600")]))
            .await;
        assert!(
            step.html().contains("name=\"otp\"") && !step.html().contains("name=\"password\""),
            "{}: {}",
            env.store_name,
            step.html()
        );
        // Without max_age that session answers at once.
        let step = browser.get(&AuthRequest::new().url(issuer, &[])).await;
        assert!(step.callback().contains_key("code"), "{}", env.store_name);
    }
}

/// A remembered browser that completes a session opened with the password
/// alone proves nothing new: the sign-in keeps the password's `auth_time`
/// (else it would pass for a recent sign-in hours later).
#[tokio::test]
async fn a_remembered_browser_keeps_the_auth_time_of_the_session_it_completes() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let mut app = Authenticator::new(&env.demo_secret());
        let browser = env
            .trusted_browser(&mut app, &AuthRequest::new().url(issuer, &[]))
            .await;
        // A password-only sign-in replaces the session.
        let req =
            AuthRequest::for_client(rp::PASSWORD_ONLY_CLIENT, "http://127.0.0.1:5000/callback");
        let url = req.url(issuer, &[("prompt", "login"), ("acr_values", "eidas1")]);
        let step = env.demo_sign_in(&browser, &url, None).await;
        let (_, tokens) = exchange(issuer, &req, &step.callback()["code"]).await;
        let password_only = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(password_only["amr"], serde_json::json!(["pwd"]));
        // auth_time has a resolution of one second.
        tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
        let req = AuthRequest::new();
        let step = browser.get(&req.url(issuer, &[])).await;
        let (_, tokens) = exchange(issuer, &req, &step.callback()["code"]).await;
        let id = claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(
            id["amr"],
            serde_json::json!(["pwd", "mfa"]),
            "{}",
            env.store_name
        );
        assert_eq!(
            id["auth_time"], password_only["auth_time"],
            "{}",
            env.store_name
        );
    }
}

/// Wrong codes count against the account until a sign-in proves a second
/// factor: a sign-in with the password alone (a client that waives 2FA)
/// does not clear them, or the password would buy unlimited guesses.
#[tokio::test]
async fn a_password_only_sign_in_does_not_clear_the_count_of_wrong_codes() {
    for env in each_env(|c| {
        c.rate_limit.account_failures = 3;
        c.rate_limit.ip_failures = 100;
    })
    .await
    {
        let issuer = env.issuer();
        let password = env.demo_password();
        let guesser = Browser::new(issuer);
        let page = guesser.get(&AuthRequest::new().url(issuer, &[])).await;
        let mut form = guesser
            .submit(&page, &[("username", "demo"), ("password", &password)])
            .await;
        for _ in 0..2 {
            form = guesser.submit(&form, &[("otp", "000000")]).await;
            assert_eq!(
                *form.page().0,
                StatusCode::UNAUTHORIZED,
                "{}",
                env.store_name
            );
        }
        let req =
            AuthRequest::for_client(rp::PASSWORD_ONLY_CLIENT, "http://127.0.0.1:5000/callback");
        let url = req.url(issuer, &[("acr_values", "eidas1")]);
        let step = env.demo_sign_in(&Browser::new(issuer), &url, None).await;
        assert!(step.callback().contains_key("code"), "{}", env.store_name);
        // The third wrong code locks the account, as it would have anyway.
        let form = guesser.submit(&form, &[("otp", "000000")]).await;
        assert_eq!(
            *form.page().0,
            StatusCode::TOO_MANY_REQUESTS,
            "{}: {}",
            env.store_name,
            form.html()
        );
    }
}

/// The code form names its account in a hidden `username`, which the
/// provider reads with the transaction; the transaction alone decides whose
/// code is checked. A post naming another account cannot pass that
/// account's code, and one naming it with the right account's code signs
/// the right account in.
#[tokio::test]
async fn the_code_form_names_its_account_but_the_transaction_decides() {
    for env in each_env(|_| {}).await {
        let issuer = env.issuer();
        let other_secret = b"another-account-key!";
        env.add_user("mallory", Some(other_secret), &[]).await;
        let mut demo = Authenticator::new(&env.demo_secret());
        let mut mallory = Authenticator::new(other_secret);
        let browser = Browser::new(issuer);
        let req = AuthRequest::new();
        let url = req.url(issuer, &[]);
        let code_page = sign_in(&browser, &url, "demo", &env.demo_password(), None, false).await;
        assert!(
            rp::hidden_inputs(code_page.html()).contains(&("username".into(), "demo".into())),
            "{}",
            code_page.html()
        );
        let refused = browser
            .submit(
                &code_page,
                &[
                    ("otp", &mallory.fresh_code().await),
                    ("username", "mallory"),
                ],
            )
            .await;
        assert_eq!(
            *refused.page().0,
            StatusCode::UNAUTHORIZED,
            "{}",
            env.store_name
        );
        let done = browser
            .submit(
                &refused,
                &[("otp", &demo.fresh_code().await), ("username", "mallory")],
            )
            .await;
        let (status, tokens) = exchange(issuer, &req, &done.callback()["code"]).await;
        assert_eq!(status, StatusCode::OK, "{tokens}");
        assert_eq!(
            claims(tokens["id_token"].as_str().unwrap())["sub"],
            "demo",
            "{}",
            env.store_name
        );
    }
}
