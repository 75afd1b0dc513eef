//! One conformance suite for every `Store` implementation.
//!
//! Each case is written once against `Arc<dyn Store>` (module `cases`) and
//! instantiated per implementation by `conformance!`: the embedded store in a
//! temporary directory (and on redb's in-memory backend, which other tests
//! use) and the Redis store on a real `redis-server` spawned for the test. A
//! Redis-only section checks behaviour across a server restart and when the
//! server is out of memory.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use tessera_provider::store::{
    AuditAction, AuthCodeGrant, BearerSubject, BrowserSession, Client, DEVICE_ID, DEVICE_NAME,
    Device, DeviceDeletion, EncryptedSecret, FirstDeviceCodes, NewAuditEvent, PasswordHash,
    PendingEnrollment, REMOVED_BROWSERS, REMOVED_COUNT, RefreshToken, SignInTransaction, Store,
    StoreError, TrustedBrowser, User, hash_token,
};
use time::OffsetDateTime;

/// Short TTLs keep expiry tests fast; the sleeps wait just past them.
const SHORT_TTL: Duration = Duration::from_secs(1);
const PAST_SHORT_TTL: Duration = Duration::from_millis(1300);

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn in_secs(secs: i64) -> OffsetDateTime {
    now() + time::Duration::seconds(secs)
}

fn user(uid: &str, email: &str, name: &str) -> User {
    User {
        uid: uid.into(),
        email: email.into(),
        display_name: name.into(),
        password_hash: PasswordHash(format!("$argon2id$v=19$m=19456,t=2,p=1$salt${uid}")),
        roles: BTreeSet::new(),
        attributes: BTreeMap::new(),
        disabled: false,
        created_at: now(),
        devices_reset_at: None,
    }
}

fn device(uid: &str, id: &str, name: &str) -> Device {
    Device {
        id: id.into(),
        uid: uid.into(),
        name: name.into(),
        secret: EncryptedSecret(format!("sealed-{id}").into_bytes()),
        registered_at: now(),
        last_used_at: None,
    }
}

fn pending(uid: &str, id: &str, expires_at: OffsetDateTime) -> PendingEnrollment {
    PendingEnrollment {
        id: id.into(),
        uid: uid.into(),
        name: format!("phone {id}"),
        secret: EncryptedSecret(vec![7; 40]),
        created_at: now(),
        expires_at,
    }
}

fn browser(uid: &str, id: &str, expires_at: OffsetDateTime) -> TrustedBrowser {
    TrustedBrowser {
        id: id.into(),
        uid: uid.into(),
        name: "Firefox on Linux".into(),
        token_hash: hash_token(format!("cookie-{id}").as_bytes()),
        created_at: now(),
        last_used_at: None,
        expires_at,
    }
}

fn grant(uid: &str) -> AuthCodeGrant {
    AuthCodeGrant {
        client_id: "desktop".into(),
        redirect_uri: "http://127.0.0.1:4711/callback".into(),
        uid: uid.into(),
        scope: "openid profile".into(),
        nonce: Some("n".repeat(32)),
        code_challenge: Some("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into()),
        code_challenge_method: Some("S256".into()),
        acr: Some("eidas1-mfa".into()),
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
        auth_time: now(),
        claims: Some(serde_json::json!({"id_token": {"acr": {"essential": true}}})),
        session_id: None,
        issued_at: now(),
    }
}

fn refresh(family: &str, uid: &str) -> RefreshToken {
    RefreshToken {
        family_id: family.into(),
        uid: uid.into(),
        client_id: "desktop".into(),
        scope: "openid".into(),
        acr: Some("eidas1-mfa".into()),
        amr: vec!["pwd".into(), "otp".into()],
        auth_time: now(),
        issued_at: now(),
        expires_at: in_secs(3600),
        used: false,
    }
}

fn audit(subject: &str, action: AuditAction, n: usize) -> NewAuditEvent {
    NewAuditEvent {
        at: now(),
        actor: Some(subject.into()),
        subject: subject.into(),
        action,
        reason: None,
        client_ip: Some("127.0.0.1".into()),
        user_agent: Some("test".into()),
        details: BTreeMap::from([("n".to_owned(), n.to_string())]),
    }
}

/// The most devices per user the conformance cases allow (the provider's
/// default).
const MAX_DEVICES: u32 = 10;

/// `uid`'s audit events, oldest first.
async fn trail(store: &Arc<dyn Store>, uid: &str) -> Vec<NewAuditEvent> {
    let mut events = store.list_audit(uid, None, 100).await.unwrap();
    events.reverse();
    events.into_iter().map(|e| e.event).collect()
}

/// The audit event of a confirmation (the store names the device in it).
fn confirmation(uid: &str) -> NewAuditEvent {
    audit(uid, AuditAction::EnrollmentConfirmed, 0)
}

/// The audit event of a new set of recovery codes.
fn codes_event(uid: &str) -> NewAuditEvent {
    audit(uid, AuditAction::RecoveryCodesRegenerated, 0)
}

fn first_codes<'a>(hashes: &'a [String], audit: &'a NewAuditEvent) -> FirstDeviceCodes<'a> {
    FirstDeviceCodes { hashes, audit }
}

/// The audit event a removal from `uid`'s account appends with itself.
fn removal(uid: &str) -> NewAuditEvent {
    audit(uid, AuditAction::DeviceDeleted, 0)
}

fn ids(devices: &[Device]) -> Vec<&str> {
    devices.iter().map(|d| d.id.as_str()).collect()
}

/// Runs `n` copies of `f` concurrently on the multi-threaded runtime.
async fn concurrently<T, F, Fut>(n: usize, f: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let handles: Vec<_> = (0..n).map(|i| tokio::spawn(f(i))).collect();
    let mut out = Vec::with_capacity(n);
    for handle in handles {
        out.push(handle.await.expect("task panicked"));
    }
    out
}

mod cases {
    use super::*;

    /// A prefix shared by many users and by many terms of each: the search
    /// walks the index in pages and still lists each user once, in order,
    /// up to the limit.
    pub async fn a_search_shared_by_many_users_lists_each_once_in_order(store: Arc<dyn Store>) {
        // Six matching terms for each of 30 users (five name words and the
        // whole name; not the uid or email); before them a user found by a
        // shorter word, after them one found only by the last word.
        for n in (0..30).rev() {
            let uid = format!("u{n:02}");
            store
                .create_user(&user(
                    &uid,
                    &format!("{uid}@example.org"),
                    "Dupa Dupb Dupc Dupd Dupe",
                ))
                .await
                .unwrap();
        }
        store
            .create_user(&user("zed", "zed@example.org", "Dup Zed"))
            .await
            .unwrap();
        store
            .create_user(&user("late", "late@example.org", "Dupz"))
            .await
            .unwrap();
        let uids = |users: Vec<User>| users.into_iter().map(|u| u.uid).collect::<Vec<_>>();
        let mut all: Vec<String> = vec!["zed".into()];
        all.extend((0..30).map(|n| format!("u{n:02}")));
        all.push("late".into());

        assert_eq!(uids(store.search_users("dup", 4).await.unwrap()), all[..4]);
        // "late" is member 183 of the index's 183 for this prefix: past the
        // first page the Redis store reads (4 x 32).
        assert_eq!(uids(store.search_users("DUP", 32).await.unwrap()), all);
        assert_eq!(uids(store.search_users("dup", 100).await.unwrap()), all);
        assert_eq!(
            uids(store.search_users("dup", 31).await.unwrap()),
            all[..31]
        );
        // A narrower prefix starts later in the index.
        assert_eq!(
            uids(store.search_users("dupe", 2).await.unwrap()),
            ["u00", "u01"]
        );
        assert_eq!(uids(store.search_users("dupz", 5).await.unwrap()), ["late"]);
    }

    pub async fn users_are_unique_and_searchable(store: Arc<dyn Store>) {
        let mut alice = user("alice", "Alice.Martin@example.org", "Alice Martin");
        alice.roles.insert("helpdesk".into());
        alice
            .attributes
            .insert("memberOf".into(), vec!["cn=staff".into(), "cn=it".into()]);
        store.create_user(&alice).await.unwrap();
        store
            .create_user(&user("bob", "bob@example.org", "Bob Marley"))
            .await
            .unwrap();
        store
            .create_user(&user("carol", "carol@other.org", "Carol Alibert"))
            .await
            .unwrap();

        let err = store
            .create_user(&user("alice", "x@example.org", "X"))
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::AlreadyExists { what: "user" });
        let err = store
            .create_user(&user("alice2", "ALICE.martin@example.org", "A"))
            .await;
        assert_eq!(err.unwrap_err().code(), "already_exists");
        assert!(
            store.get_user("alice2").await.unwrap().is_none(),
            "no partial user"
        );

        let got = store.get_user("alice").await.unwrap().unwrap();
        assert_eq!(got, alice);
        assert!(got.has_role("helpdesk"));
        assert_eq!(store.get_user("nobody").await.unwrap(), None);
        assert_eq!(
            store
                .get_user_by_email("alice.MARTIN@example.org")
                .await
                .unwrap()
                .unwrap()
                .uid,
            "alice"
        );

        let uids = |users: Vec<User>| users.into_iter().map(|u| u.uid).collect::<Vec<_>>();
        assert_eq!(
            uids(store.list_users().await.unwrap()),
            ["alice", "bob", "carol"]
        );
        // Best match first: by the first matching term ("alibert" before
        // "alice", "marley" before "martin"), each user once.
        assert_eq!(
            uids(store.search_users("al", 10).await.unwrap()),
            ["carol", "alice"]
        );
        assert_eq!(
            uids(store.search_users("MAR", 10).await.unwrap()),
            ["bob", "alice"]
        );
        assert_eq!(uids(store.search_users("bob@", 10).await.unwrap()), ["bob"]);
        assert_eq!(
            uids(store.search_users("alice m", 10).await.unwrap()),
            ["alice"]
        );
        assert_eq!(uids(store.search_users("mar", 1).await.unwrap()), ["bob"]);
        assert!(store.search_users("zz", 10).await.unwrap().is_empty());
        // Not a substring search: "tin" is inside "martin" but starts nothing.
        assert!(store.search_users("tin", 10).await.unwrap().is_empty());

        // Changing the email frees the old one and moves the search terms.
        let mut changed = alice.clone();
        changed.email = "a.martin@new.org".into();
        changed.display_name = "Alice Durand".into();
        store.update_user(&changed).await.unwrap();
        assert_eq!(
            store
                .get_user_by_email("alice.martin@example.org")
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store
                .get_user_by_email("a.martin@new.org")
                .await
                .unwrap()
                .unwrap(),
            changed
        );
        assert_eq!(uids(store.search_users("mar", 10).await.unwrap()), ["bob"]);
        assert_eq!(
            uids(store.search_users("dur", 10).await.unwrap()),
            ["alice"]
        );
        let mut stealing = user("bob", "a.martin@new.org", "Bob");
        stealing.created_at = changed.created_at;
        assert_eq!(
            store.update_user(&stealing).await.unwrap_err().code(),
            "already_exists"
        );
        assert_eq!(
            store.get_user("bob").await.unwrap().unwrap().email,
            "bob@example.org"
        );
        let ghost = user("ghost", "ghost@example.org", "Ghost");
        assert_eq!(
            store.update_user(&ghost).await.unwrap_err().code(),
            "not_found"
        );

        store.set_user_disabled("bob", true).await.unwrap();
        assert!(store.get_user("bob").await.unwrap().unwrap().disabled);
        store.set_user_disabled("bob", false).await.unwrap();
        assert!(!store.get_user("bob").await.unwrap().unwrap().disabled);
        let err = store.set_user_disabled("nobody", true).await.unwrap_err();
        assert_eq!(err, StoreError::NotFound { what: "user" });
    }

    pub async fn invalid_keys_are_refused_without_partial_state(store: Arc<dyn Store>) {
        let err = store
            .create_user(&user("", "e@example.org", "E"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid");
        assert_eq!(
            store.get_user_by_email("e@example.org").await.unwrap(),
            None
        );
        let err = store
            .create_device(&device("alice", "bad\nid", "x"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid");
        assert!(store.list_devices("alice").await.unwrap().is_empty());
        let err = store
            .put_auth_code("h", &grant("alice"), Duration::ZERO)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid");
        let err = store
            .put_auth_code("h", &grant("alice"), Duration::MAX)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid");
        let err = store.rate_limit_hit("k", Duration::MAX).await.unwrap_err();
        assert_eq!(err.code(), "invalid");
        assert_eq!(store.rate_limit_count("k").await.unwrap(), 0);
        let expired = pending("alice", "p1", now() - time::Duration::seconds(1));
        assert_eq!(
            store
                .put_pending_enrollment(&expired)
                .await
                .unwrap_err()
                .code(),
            "invalid"
        );
        assert_eq!(
            store.get_pending_enrollment("alice", "p1").await.unwrap(),
            None
        );
    }

    /// Lookups with hostile keys answer "nothing there" (or Invalid for
    /// writes), never panic, and never reach another record.
    pub async fn hostile_keys_find_nothing(store: Arc<dyn Store>) {
        store
            .create_device(&device("alice", "d1", "Phone"))
            .await
            .unwrap();
        store
            .create_user(&user("alice", "alice@example.org", "Alice"))
            .await
            .unwrap();
        let long = "x".repeat(100_000);
        let hostile = [
            "",
            "\0",
            "alice\0d1",
            "alice\u{1}",
            "*",
            "?",
            "[",
            "(",
            "-",
            "+",
            "+inf",
            "a:b",
            "user:alice",
            "../../etc",
            "é",
            "\u{10FFFF}",
            "{}",
            "\"",
            long.as_str(),
        ];
        for key in hostile {
            assert_eq!(store.get_user(key).await.unwrap(), None, "{key:?}");
            assert_eq!(store.get_device(key, "d1").await.unwrap(), None, "{key:?}");
            assert_eq!(
                store.get_device("alice", key).await.unwrap(),
                None,
                "{key:?}"
            );
            assert!(store.list_devices(key).await.unwrap().is_empty(), "{key:?}");
            // A change needs a valid account to record itself under.
            match store.delete_device(key, "d1", &removal(key)).await {
                Err(StoreError::Invalid(_))
                    if key.is_empty() || key.len() > 512 || key.contains(char::is_control) => {}
                outcome => assert!(matches!(outcome, Ok(false)), "{key:?}: {outcome:?}"),
            }
            assert!(
                !store
                    .delete_device("alice", key, &removal("alice"))
                    .await
                    .unwrap(),
                "{key:?}"
            );
            assert!(store.list_trusted_browsers(key).await.unwrap().is_empty());
            assert_eq!(store.find_trusted_browser(key).await.unwrap(), None);
            assert_eq!(store.take_auth_code(key).await.unwrap(), None);
            assert_eq!(store.get_refresh_token(key).await.unwrap(), None);
            assert_eq!(store.get_session(key).await.unwrap(), None);
            assert!(!store.consume_recovery_code(key, key).await.unwrap());
            assert!(store.list_audit(key, None, 10).await.unwrap().is_empty());
            assert_eq!(store.rate_limit_count(key).await.unwrap(), 0);
            let found = store.search_users(key, 10).await.unwrap();
            assert!(found.iter().all(|u| u.uid == "alice"), "{key:?}");
            let created = store.create_device(&device(key, key, "x")).await;
            if let Err(err) = created {
                assert_eq!(err.code(), "invalid", "{key:?}: {err}");
            }
        }
        assert_eq!(ids(&store.list_devices("alice").await.unwrap()), ["d1"]);
    }

    pub async fn clients_are_unique(store: Arc<dyn Store>) {
        let client = Client {
            client_id: "desktop".into(),
            name: "Tessera desktop".into(),
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            post_logout_redirect_uris: vec![],
            public: true,
            secret_hash: None,
            require_mfa: Some(true),
            created_at: now(),
        };
        let mut portal = client.clone();
        portal.client_id = "portal".into();
        portal.public = false;
        portal.secret_hash = Some(PasswordHash("$argon2id$...".into()));
        portal.require_mfa = None;
        store.create_client(&portal).await.unwrap();
        store.create_client(&client).await.unwrap();
        let err = store.create_client(&client).await.unwrap_err();
        assert_eq!(err, StoreError::AlreadyExists { what: "client" });
        assert_eq!(store.get_client("desktop").await.unwrap().unwrap(), client);
        assert_eq!(store.get_client("nope").await.unwrap(), None);
        let listed: Vec<String> = store
            .list_clients()
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.client_id)
            .collect();
        assert_eq!(listed, ["desktop", "portal"]);
    }

    pub async fn devices_belong_to_their_owner(store: Arc<dyn Store>) {
        let first = device("alice", "d1", "Phone");
        store.create_device(&first).await.unwrap();
        store
            .create_device(&device("alice", "d2", "Tablet"))
            .await
            .unwrap();
        store
            .create_device(&device("bob", "d3", "Bob's phone"))
            .await
            .unwrap();
        let err = store
            .create_device(&device("bob", "d1", "steal"))
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::AlreadyExists { what: "device" });

        assert_eq!(
            ids(&store.list_devices("alice").await.unwrap()),
            ["d1", "d2"]
        );
        assert_eq!(ids(&store.list_devices("bob").await.unwrap()), ["d3"]);
        assert_eq!(
            store.get_device("alice", "d1").await.unwrap().unwrap(),
            first
        );

        // Another user's id is simply not found, for every operation.
        assert_eq!(store.get_device("alice", "d3").await.unwrap(), None);
        let err = store
            .rename_device("alice", "d3", "mine")
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::NotFound { what: "device" });
        assert_eq!(
            store
                .touch_device("alice", "d3", now())
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );
        assert!(
            !store
                .delete_device("alice", "d3", &removal("alice"))
                .await
                .unwrap()
        );
        let bobs = store.get_device("bob", "d3").await.unwrap().unwrap();
        assert_eq!(bobs.name, "Bob's phone");
        assert_eq!(ids(&store.list_devices("bob").await.unwrap()), ["d3"]);

        let renamed = store
            .rename_device("alice", "d1", "Work phone")
            .await
            .unwrap();
        assert_eq!(renamed.name, "Work phone");
        assert_eq!(renamed.secret, first.secret);
        let used_at = now();
        store.touch_device("alice", "d1", used_at).await.unwrap();
        let listed = store.list_devices("alice").await.unwrap();
        assert_eq!(ids(&listed), ["d1", "d2"], "renaming never duplicates");
        assert_eq!(listed[0].name, "Work phone");
        assert_eq!(listed[0].last_used_at, Some(used_at));
        // The account API's combined read answers exactly what the two
        // separate reads answer, and only the owner's devices.
        store
            .create_user(&user("alice", "alice@example.org", "Alice"))
            .await
            .unwrap();
        store
            .revoke_access_token("jti-alice", in_secs(600))
            .await
            .unwrap();
        for jti in ["jti-alice", "jti-other"] {
            let (subject, devices) = store
                .bearer_subject_and_devices("alice", jti)
                .await
                .unwrap();
            assert_eq!(subject, store.bearer_subject("alice", jti).await.unwrap());
            assert_eq!(subject.token_revoked, jti == "jti-alice");
            assert_eq!(subject.user.map(|u| u.uid).as_deref(), Some("alice"));
            assert_eq!(devices, listed);
        }
        let (nobody, devices) = store
            .bearer_subject_and_devices("nobody", "jti-other")
            .await
            .unwrap();
        assert_eq!((nobody.user, devices.len()), (None, 0));

        assert!(
            store
                .delete_device("alice", "d1", &removal("alice"))
                .await
                .unwrap()
        );
        assert!(
            !store
                .delete_device("alice", "d1", &removal("alice"))
                .await
                .unwrap()
        );
        assert_eq!(store.get_device("alice", "d1").await.unwrap(), None);
        assert_eq!(ids(&store.list_devices("alice").await.unwrap()), ["d2"]);
        let err = store
            .rename_device("alice", "d1", "back")
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_found", "a deleted device cannot come back");
        assert_eq!(ids(&store.list_devices("alice").await.unwrap()), ["d2"]);

        store
            .create_device(&device("alice", "d4", "Spare"))
            .await
            .unwrap();
        for uid in ["alice", "bob"] {
            let codes = [format!("{uid}-code")];
            store
                .replace_recovery_codes(uid, &codes, &codes_event(uid))
                .await
                .unwrap();
        }
        let reset = store
            .reset_devices("alice", now(), &removal("alice"))
            .await
            .unwrap();
        assert_eq!(reset.devices, 2);
        assert!(store.list_devices("alice").await.unwrap().is_empty());
        assert_eq!(
            store.count_recovery_codes("alice").await.unwrap(),
            0,
            "a reset voids the recovery codes with the devices"
        );
        assert_eq!(store.count_recovery_codes("bob").await.unwrap(), 1);
        assert_eq!(store.get_device("alice", "d4").await.unwrap(), None);
        assert_eq!(ids(&store.list_devices("bob").await.unwrap()), ["d3"]);
    }

    /// A reset stamps the user record as stored (keeping a change made just
    /// before it), and removes the devices, the recovery codes and the
    /// trusted browsers of that user only, in one step.
    pub async fn reset_stamps_the_user_and_removes_what_devices_proved(store: Arc<dyn Store>) {
        for (uid, email) in [("rita", "rita@example.org"), ("sam", "sam@example.org")] {
            store.create_user(&user(uid, email, uid)).await.unwrap();
            store
                .create_device(&device(uid, &format!("{uid}-d1"), "Phone"))
                .await
                .unwrap();
            store
                .replace_recovery_codes(uid, &[format!("{uid}-code")], &codes_event(uid))
                .await
                .unwrap();
            for n in 1..=2 {
                store
                    .create_trusted_browser(&browser(uid, &format!("{uid}-b{n}"), in_secs(3600)))
                    .await
                    .unwrap();
            }
        }
        store
            .create_trusted_browser(&browser("rita", "rita-old", in_secs(1)))
            .await
            .unwrap();
        let mut renamed = store.get_user("rita").await.unwrap().unwrap();
        renamed.display_name = "Rita Renamed".into();
        store.update_user(&renamed).await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1100)).await;

        let at = OffsetDateTime::from_unix_timestamp(now().unix_timestamp()).unwrap();
        let reset = store
            .reset_devices("rita", at, &removal("rita"))
            .await
            .unwrap();
        assert_eq!(
            (reset.devices, reset.browsers),
            (1, 2),
            "the expired browser is removed but not counted"
        );

        let rita = store.get_user("rita").await.unwrap().unwrap();
        assert_eq!(rita.devices_reset_at, Some(at));
        assert_eq!(
            rita.display_name, "Rita Renamed",
            "the record as stored is stamped"
        );
        assert!(!rita.signed_in_since_reset(at.unix_timestamp() - 1));
        let subject = store.bearer_subject("rita", "jti-rita").await.unwrap();
        assert_eq!(subject.user.unwrap().devices_reset_at, Some(at));
        assert!(store.list_devices("rita").await.unwrap().is_empty());
        assert_eq!(store.count_recovery_codes("rita").await.unwrap(), 0);
        assert!(
            store
                .list_trusted_browsers("rita")
                .await
                .unwrap()
                .is_empty()
        );
        for id in ["rita-b1", "rita-b2"] {
            let cookie = hash_token(format!("cookie-{id}").as_bytes());
            assert_eq!(
                store.find_trusted_browser(&cookie).await.unwrap(),
                None,
                "{id}"
            );
        }
        assert_eq!(
            store
                .rename_device("rita", "rita-d1", "back")
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );

        let sam = store.get_user("sam").await.unwrap().unwrap();
        assert_eq!(sam.devices_reset_at, None, "another user is untouched");
        assert_eq!(store.list_devices("sam").await.unwrap().len(), 1);
        assert_eq!(store.count_recovery_codes("sam").await.unwrap(), 1);
        assert_eq!(store.list_trusted_browsers("sam").await.unwrap().len(), 2);

        let err = store
            .reset_devices("nobody", at, &removal("nobody"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_found");
        assert_eq!(
            store.get_user("nobody").await.unwrap(),
            None,
            "nothing created"
        );
    }

    /// The CAS defect: a deleted device stayed in the user's index and kept
    /// working. Creates, renames, touches and deletes race on the same ids;
    /// afterwards (and at every list during the race) a device is listed if
    /// and only if it can be fetched for authentication.
    pub async fn listed_iff_usable_under_concurrency(store: Arc<dyn Store>) {
        const DEVICES: usize = 24;
        for round in 0..3 {
            let uid = format!("racer{round}");
            let results = concurrently(DEVICES * 4, |i| {
                let store = store.clone();
                let uid = uid.clone();
                async move {
                    let id = format!("{uid}-dev{}", i % DEVICES);
                    match i / DEVICES {
                        0 => {
                            let _ = store.create_device(&device(&uid, &id, "new")).await;
                        }
                        1 => {
                            let _ = store
                                .rename_device(&uid, &id, &format!("renamed {i}"))
                                .await;
                        }
                        2 => {
                            let _ = store.touch_device(&uid, &id, now()).await;
                        }
                        _ if i % 2 == 0 => {
                            let _ = store.delete_device(&uid, &id, &removal(&uid)).await;
                        }
                        _ => {
                            for listed in store.list_devices(&uid).await.unwrap() {
                                assert_eq!(listed.uid, uid);
                            }
                        }
                    }
                }
            })
            .await;
            assert_eq!(results.len(), DEVICES * 4);

            let listed = store.list_devices(&uid).await.unwrap();
            let listed_ids: BTreeSet<&str> = ids(&listed).into_iter().collect();
            assert_eq!(listed_ids.len(), listed.len(), "no duplicates in the list");
            for n in 0..DEVICES {
                let id = format!("{uid}-dev{n}");
                let usable = store.get_device(&uid, &id).await.unwrap().is_some();
                assert_eq!(
                    listed_ids.contains(id.as_str()),
                    usable,
                    "{id}: listed must equal usable"
                );
            }
            // Devices deleted in the race can't be resurrected by a rename.
            for n in (0..DEVICES).step_by(2) {
                let id = format!("{uid}-dev{n}");
                let _ = store
                    .delete_device(&uid, &id, &removal(&uid))
                    .await
                    .unwrap();
                assert_eq!(
                    store
                        .rename_device(&uid, &id, "x")
                        .await
                        .unwrap_err()
                        .code(),
                    "not_found"
                );
                assert!(!ids(&store.list_devices(&uid).await.unwrap()).contains(&id.as_str()));
            }
        }
    }

    pub async fn last_device_is_kept_when_asked(store: Arc<dyn Store>) {
        store
            .create_device(&device("alice", "a1", "Phone"))
            .await
            .unwrap();
        store
            .create_device(&device("alice", "a2", "Tablet"))
            .await
            .unwrap();
        store
            .create_device(&device("bob", "b1", "Phone"))
            .await
            .unwrap();
        let outcome = store
            .delete_device_unless_last("alice", "b1", &removal("alice"))
            .await
            .unwrap();
        assert_eq!(outcome, DeviceDeletion::NotFound, "another user's device");
        assert!(store.get_device("bob", "b1").await.unwrap().is_some());
        assert_eq!(
            store
                .delete_device_unless_last("alice", "nope", &removal("alice"))
                .await
                .unwrap(),
            DeviceDeletion::NotFound
        );
        assert_eq!(
            store
                .delete_device_unless_last("alice", "a1", &removal("alice"))
                .await
                .unwrap(),
            DeviceDeletion::Deleted
        );
        assert_eq!(
            store
                .delete_device_unless_last("alice", "a2", &removal("alice"))
                .await
                .unwrap(),
            DeviceDeletion::LastDevice
        );
        assert_eq!(ids(&store.list_devices("alice").await.unwrap()), ["a2"]);

        // Concurrent deletions of all of a user's devices leave exactly one.
        for n in 0..5 {
            store
                .create_device(&device("carol", &format!("c{n}"), "x"))
                .await
                .unwrap();
        }
        let outcomes = concurrently(5, |n| {
            let store = store.clone();
            async move {
                store
                    .delete_device_unless_last("carol", &format!("c{n}"), &removal("carol"))
                    .await
                    .unwrap()
            }
        })
        .await;
        let deleted = outcomes
            .iter()
            .filter(|o| **o == DeviceDeletion::Deleted)
            .count();
        let kept = outcomes
            .iter()
            .filter(|o| **o == DeviceDeletion::LastDevice)
            .count();
        assert_eq!((deleted, kept), (4, 1), "{outcomes:?}");
        assert_eq!(store.list_devices("carol").await.unwrap().len(), 1);
    }

    pub async fn redeemed_codes_and_revoked_access_tokens_expire(store: Arc<dyn Store>) {
        let code = hash_token(b"redeemed");
        store
            .put_auth_code(&code, &grant("alice"), Duration::from_secs(60))
            .await
            .unwrap();
        assert!(
            store
                .redeem_auth_code(&code, "rt-1", &refresh("fam-1", "alice"), now() + SHORT_TTL)
                .await
                .unwrap()
        );
        assert_eq!(
            store.redeemed_code_family(&code).await.unwrap().as_deref(),
            Some("fam-1")
        );
        assert_eq!(
            store
                .redeemed_code_family(&hash_token(b"other"))
                .await
                .unwrap(),
            None
        );

        store
            .revoke_access_token("jti-1", now() + SHORT_TTL)
            .await
            .unwrap();
        // Revocation is read with the user, as bearer authentication does.
        store
            .create_user(&user("dora", "dora@example.org", "Dora"))
            .await
            .unwrap();
        let revoked = |jti: &'static str| {
            let store = store.clone();
            async move {
                store
                    .bearer_subject("dora", jti)
                    .await
                    .unwrap()
                    .token_revoked
            }
        };
        assert!(revoked("jti-1").await);
        assert!(!revoked("jti-2").await);
        let subject = store.bearer_subject("dora", "jti-1").await.unwrap();
        assert_eq!(subject.user.map(|u| u.uid).as_deref(), Some("dora"));
        let subject = store.bearer_subject("nobody", "jti-2").await.unwrap();
        assert_eq!(
            subject,
            BearerSubject {
                token_revoked: false,
                user: None
            }
        );
        // An already expired token needs no revocation record.
        store
            .revoke_access_token("jti-old", now() - time::Duration::seconds(5))
            .await
            .unwrap();
        assert!(!revoked("jti-old").await);
        store
            .revoke_access_token("jti-long", in_secs(600))
            .await
            .unwrap();

        tokio::time::sleep(PAST_SHORT_TTL).await;
        assert_eq!(store.redeemed_code_family(&code).await.unwrap(), None);
        assert!(!revoked("jti-1").await);
        assert!(revoked("jti-long").await);
    }

    pub async fn concurrent_renames_never_duplicate(store: Arc<dyn Store>) {
        store
            .create_device(&device("alice", "only", "original"))
            .await
            .unwrap();
        let renamed = concurrently(16, |i| {
            let store = store.clone();
            async move {
                store
                    .rename_device("alice", "only", &format!("name {i}"))
                    .await
            }
        })
        .await;
        let names: BTreeSet<String> = renamed.into_iter().map(|r| r.unwrap().name).collect();
        assert_eq!(names.len(), 16, "every rename applied to the one device");
        let listed = store.list_devices("alice").await.unwrap();
        assert_eq!(ids(&listed), ["only"]);
        assert!(names.contains(&listed[0].name));
    }

    /// A reset of the devices (the answer to a lost or stolen phone) voids
    /// enrolments started before it, even one whose confirmation was already
    /// authorised; other changes to the user (a rename) do not.
    pub async fn a_reset_voids_enrolments_started_before_it(store: Arc<dyn Store>) {
        store
            .create_user(&user("vera", "vera@example.org", "Vera"))
            .await
            .unwrap();
        store
            .put_pending_enrollment(&pending("vera", "before", in_secs(600)))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        store
            .reset_devices("vera", now(), &removal("vera"))
            .await
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        store
            .put_pending_enrollment(&pending("vera", "after", in_secs(600)))
            .await
            .unwrap();
        let err = store
            .confirm_enrollment(
                "vera",
                "before",
                now(),
                MAX_DEVICES,
                None,
                &confirmation("vera"),
            )
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::NotFound { what: "enrollment" });
        let mut renamed = store.get_user("vera").await.unwrap().unwrap();
        renamed.display_name = "Vera Renamed".into();
        store.update_user(&renamed).await.unwrap();
        let confirmed = store
            .confirm_enrollment(
                "vera",
                "after",
                now(),
                MAX_DEVICES,
                None,
                &confirmation("vera"),
            )
            .await
            .unwrap();
        assert!(confirmed.first_device);
        let ids: Vec<String> = store
            .list_devices("vera")
            .await
            .unwrap()
            .into_iter()
            .map(|d| d.id)
            .collect();
        assert_eq!(ids, ["after"]);
    }

    pub async fn enrollment_confirms_exactly_once(store: Arc<dyn Store>) {
        let p = pending("alice", "enr1", in_secs(600));
        store.put_pending_enrollment(&p).await.unwrap();
        assert_eq!(
            store.put_pending_enrollment(&p).await.unwrap_err().code(),
            "already_exists"
        );
        assert_eq!(
            store
                .get_pending_enrollment("alice", "enr1")
                .await
                .unwrap()
                .unwrap(),
            p
        );
        assert_eq!(
            store.get_pending_enrollment("bob", "enr1").await.unwrap(),
            None
        );
        assert!(
            store.list_devices("alice").await.unwrap().is_empty(),
            "pending is no device"
        );
        let err = store
            .confirm_enrollment(
                "bob",
                "enr1",
                now(),
                MAX_DEVICES,
                None,
                &confirmation("bob"),
            )
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::NotFound { what: "enrollment" });

        let at = now();
        let outcomes = concurrently(12, |_| {
            let store = store.clone();
            async move {
                store
                    .confirm_enrollment(
                        "alice",
                        "enr1",
                        at,
                        MAX_DEVICES,
                        None,
                        &confirmation("alice"),
                    )
                    .await
            }
        })
        .await;
        let winners: Vec<&Device> = outcomes
            .iter()
            .filter_map(|o| o.as_ref().ok())
            .map(|confirmed| &confirmed.device)
            .collect();
        assert_eq!(
            winners.len(),
            1,
            "exactly one confirmation wins: {outcomes:?}"
        );
        for outcome in &outcomes {
            if let Err(err) = outcome {
                assert_eq!(err.code(), "not_found");
            }
        }
        let confirmed = winners[0];
        assert_eq!(
            (
                confirmed.id.as_str(),
                confirmed.name.as_str(),
                &confirmed.secret
            ),
            ("enr1", "phone enr1", &p.secret)
        );
        assert_eq!(confirmed.registered_at, at);
        assert_eq!(
            store.list_devices("alice").await.unwrap(),
            vec![confirmed.clone()]
        );
        assert_eq!(
            store.get_pending_enrollment("alice", "enr1").await.unwrap(),
            None
        );

        // A device id can't be reused for a new enrolment.
        let again = pending("alice", "enr1", in_secs(600));
        assert_eq!(
            store
                .put_pending_enrollment(&again)
                .await
                .unwrap_err()
                .code(),
            "already_exists"
        );

        // Cancelling: only the owner can delete a pending enrolment.
        store
            .put_pending_enrollment(&pending("alice", "enr2", in_secs(600)))
            .await
            .unwrap();
        assert!(
            !store
                .delete_pending_enrollment("bob", "enr2")
                .await
                .unwrap()
        );
        assert!(
            store
                .delete_pending_enrollment("alice", "enr2")
                .await
                .unwrap()
        );
        assert!(
            !store
                .delete_pending_enrollment("alice", "enr2")
                .await
                .unwrap()
        );
        assert_eq!(
            store
                .confirm_enrollment(
                    "alice",
                    "enr2",
                    now(),
                    MAX_DEVICES,
                    None,
                    &confirmation("alice")
                )
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );
    }

    /// A first device's recovery codes are set with it, atomically: of
    /// several first confirmations at once exactly one is first and its
    /// codes are the user's; later devices leave the codes alone, and
    /// without codes given nothing is set.
    pub async fn first_device_codes_are_set_once(store: Arc<dyn Store>) {
        for n in 0..6 {
            store
                .put_pending_enrollment(&pending("alice", &format!("first{n}"), in_secs(600)))
                .await
                .unwrap();
        }
        let sets: Vec<Vec<String>> = (0..6)
            .map(|n| (0..3).map(|c| format!("set{n}-code{c}")).collect())
            .collect();
        let outcomes = concurrently(6, |n| {
            let (store, codes) = (store.clone(), sets[n].clone());
            async move {
                store
                    .confirm_enrollment(
                        "alice",
                        &format!("first{n}"),
                        now(),
                        MAX_DEVICES,
                        Some(first_codes(&codes, &codes_event("alice"))),
                        &confirmation("alice"),
                    )
                    .await
            }
        })
        .await;
        let firsts: Vec<usize> = outcomes
            .iter()
            .enumerate()
            .filter(|(_, o)| o.as_ref().unwrap().first_device)
            .map(|(n, _)| n)
            .collect();
        assert_eq!(firsts.len(), 1, "exactly one first device: {outcomes:?}");
        assert_eq!(store.list_devices("alice").await.unwrap().len(), 6);
        assert_eq!(store.count_recovery_codes("alice").await.unwrap(), 3);
        for (n, set) in sets.iter().enumerate() {
            for code in set {
                let consumed = store.consume_recovery_code("alice", code).await.unwrap();
                assert_eq!(consumed, n == firsts[0], "{code}");
            }
        }

        // Another user's first device without codes given: first, no codes.
        store
            .put_pending_enrollment(&pending("bob", "bob1", in_secs(600)))
            .await
            .unwrap();
        let bobs = store
            .confirm_enrollment(
                "bob",
                "bob1",
                now(),
                MAX_DEVICES,
                None,
                &confirmation("bob"),
            )
            .await
            .unwrap();
        assert!(bobs.first_device);
        assert_eq!(store.count_recovery_codes("bob").await.unwrap(), 0);
        // Malformed hashes are refused before anything changes.
        store
            .put_pending_enrollment(&pending("carol", "carol1", in_secs(600)))
            .await
            .unwrap();
        let err = store
            .confirm_enrollment(
                "carol",
                "carol1",
                now(),
                MAX_DEVICES,
                Some(first_codes(
                    &["bad\0hash".to_owned()],
                    &codes_event("carol"),
                )),
                &confirmation("carol"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid", "{err}");
        assert!(
            store
                .get_pending_enrollment("carol", "carol1")
                .await
                .unwrap()
                .is_some()
        );
    }

    pub async fn pending_enrollments_expire(store: Arc<dyn Store>) {
        let expires_at = now() + SHORT_TTL;
        store
            .put_pending_enrollment(&pending("alice", "short", expires_at))
            .await
            .unwrap();
        store
            .put_pending_enrollment(&pending("alice", "long", in_secs(600)))
            .await
            .unwrap();
        assert!(
            store
                .get_pending_enrollment("alice", "short")
                .await
                .unwrap()
                .is_some()
        );
        tokio::time::sleep(PAST_SHORT_TTL).await;
        assert_eq!(
            store
                .get_pending_enrollment("alice", "short")
                .await
                .unwrap(),
            None
        );
        let err = store
            .confirm_enrollment(
                "alice",
                "short",
                now(),
                MAX_DEVICES,
                None,
                &confirmation("alice"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_found");
        assert!(store.list_devices("alice").await.unwrap().is_empty());
        store.purge_expired().await.unwrap();
        assert!(
            store
                .get_pending_enrollment("alice", "long")
                .await
                .unwrap()
                .is_some()
        );
        // The expired id is free again.
        store
            .put_pending_enrollment(&pending("alice", "short", in_secs(600)))
            .await
            .unwrap();
    }

    pub async fn recovery_codes_are_single_use(store: Arc<dyn Store>) {
        let codes: Vec<String> = ["a", "b", "c"]
            .iter()
            .map(|c| hash_token(c.as_bytes()))
            .collect();
        store
            .replace_recovery_codes("alice", &codes, &codes_event("alice"))
            .await
            .unwrap();
        assert_eq!(store.count_recovery_codes("alice").await.unwrap(), 3);
        assert!(!store.consume_recovery_code("bob", &codes[0]).await.unwrap());
        assert!(
            store
                .consume_recovery_code("alice", &codes[1])
                .await
                .unwrap()
        );
        assert!(
            !store
                .consume_recovery_code("alice", &codes[1])
                .await
                .unwrap()
        );
        assert_eq!(store.count_recovery_codes("alice").await.unwrap(), 2);

        let wins = concurrently(10, |_| {
            let store = store.clone();
            let code = codes[0].clone();
            async move { store.consume_recovery_code("alice", &code).await.unwrap() }
        })
        .await;
        assert_eq!(
            wins.iter().filter(|w| **w).count(),
            1,
            "one concurrent use wins"
        );

        let fresh = vec![hash_token(b"d")];
        store
            .replace_recovery_codes("alice", &fresh, &codes_event("alice"))
            .await
            .unwrap();
        assert!(
            !store
                .consume_recovery_code("alice", &codes[2])
                .await
                .unwrap(),
            "old set void"
        );
        assert_eq!(store.count_recovery_codes("alice").await.unwrap(), 1);
        store
            .replace_recovery_codes("alice", &[], &codes_event("alice"))
            .await
            .unwrap();
        assert_eq!(store.count_recovery_codes("alice").await.unwrap(), 0);
        assert_eq!(store.count_recovery_codes("nobody").await.unwrap(), 0);
    }

    pub async fn trusted_browsers_are_revoked_one_at_a_time(store: Arc<dyn Store>) {
        let b1 = browser("alice", "b1", in_secs(600));
        let b2 = browser("alice", "b2", in_secs(600));
        let b3 = browser("alice", "b3", in_secs(600));
        let bobs = browser("bob", "b4", in_secs(600));
        for b in [&b1, &b2, &b3, &bobs] {
            store.create_trusted_browser(b).await.unwrap();
        }
        let mut clash = browser("alice", "b5", in_secs(600));
        clash.token_hash = b1.token_hash.clone();
        assert_eq!(
            store
                .create_trusted_browser(&clash)
                .await
                .unwrap_err()
                .code(),
            "already_exists"
        );

        let names = |list: Vec<TrustedBrowser>| list.into_iter().map(|b| b.id).collect::<Vec<_>>();
        assert_eq!(
            names(store.list_trusted_browsers("alice").await.unwrap()),
            ["b1", "b2", "b3"]
        );
        assert_eq!(
            store
                .find_trusted_browser(&b2.token_hash)
                .await
                .unwrap()
                .unwrap(),
            b2
        );
        assert_eq!(
            store
                .find_trusted_browser(&hash_token(b"forged"))
                .await
                .unwrap(),
            None
        );

        // Bob can neither revoke nor touch Alice's browser.
        assert!(
            !store
                .revoke_trusted_browser("bob", "b2", &removal("bob"))
                .await
                .unwrap()
        );
        assert_eq!(
            store
                .touch_trusted_browser("bob", "b2", now())
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );
        assert!(
            store
                .find_trusted_browser(&b2.token_hash)
                .await
                .unwrap()
                .is_some()
        );

        let used_at = now();
        store
            .touch_trusted_browser("alice", "b2", used_at)
            .await
            .unwrap();
        assert_eq!(
            store
                .find_trusted_browser(&b2.token_hash)
                .await
                .unwrap()
                .unwrap()
                .last_used_at,
            Some(used_at)
        );

        assert!(
            store
                .revoke_trusted_browser("alice", "b2", &removal("alice"))
                .await
                .unwrap()
        );
        assert!(
            !store
                .revoke_trusted_browser("alice", "b2", &removal("alice"))
                .await
                .unwrap()
        );
        assert_eq!(
            names(store.list_trusted_browsers("alice").await.unwrap()),
            ["b1", "b3"]
        );
        assert_eq!(
            store.find_trusted_browser(&b2.token_hash).await.unwrap(),
            None
        );
        assert!(
            store
                .find_trusted_browser(&b1.token_hash)
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .find_trusted_browser(&b3.token_hash)
                .await
                .unwrap()
                .is_some()
        );

        assert_eq!(
            store
                .revoke_all_trusted_browsers("alice", &removal("alice"))
                .await
                .unwrap(),
            2
        );
        assert!(
            store
                .list_trusted_browsers("alice")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.find_trusted_browser(&b1.token_hash).await.unwrap(),
            None
        );
        assert_eq!(
            names(store.list_trusted_browsers("bob").await.unwrap()),
            ["b4"]
        );
        assert!(
            store
                .find_trusted_browser(&bobs.token_hash)
                .await
                .unwrap()
                .is_some()
        );
    }

    pub async fn trusted_browsers_expire(store: Arc<dyn Store>) {
        let short = browser("alice", "short", now() + SHORT_TTL);
        let long = browser("alice", "long", in_secs(600));
        store.create_trusted_browser(&short).await.unwrap();
        store.create_trusted_browser(&long).await.unwrap();
        assert_eq!(store.list_trusted_browsers("alice").await.unwrap().len(), 2);
        tokio::time::sleep(PAST_SHORT_TTL).await;
        let listed = store.list_trusted_browsers("alice").await.unwrap();
        assert_eq!(listed, vec![long.clone()]);
        assert_eq!(
            store.find_trusted_browser(&short.token_hash).await.unwrap(),
            None
        );
        assert_eq!(
            store
                .touch_trusted_browser("alice", "short", now())
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );
        store.purge_expired().await.unwrap();
        assert_eq!(
            store
                .find_trusted_browser(&long.token_hash)
                .await
                .unwrap()
                .unwrap(),
            long
        );
    }

    pub async fn auth_codes_are_single_use(store: Arc<dyn Store>) {
        let hash = hash_token(b"the-code");
        let g = grant("alice");
        store
            .put_auth_code(&hash, &g, Duration::from_secs(60))
            .await
            .unwrap();
        let err = store
            .put_auth_code(&hash, &g, Duration::from_secs(60))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "already_exists");
        let taken = concurrently(16, |_| {
            let store = store.clone();
            let hash = hash.clone();
            async move { store.take_auth_code(&hash).await.unwrap() }
        })
        .await;
        let winners: Vec<AuthCodeGrant> = taken.into_iter().flatten().collect();
        assert_eq!(winners, vec![g], "exactly one take gets the grant");
        assert_eq!(store.take_auth_code(&hash).await.unwrap(), None);
        assert_eq!(
            store
                .take_auth_code(&hash_token(b"never issued"))
                .await
                .unwrap(),
            None
        );
    }

    pub async fn auth_codes_are_redeemed_once_with_their_token(store: Arc<dyn Store>) {
        let hash = hash_token(b"the-code");
        let g = grant("alice");
        store
            .put_auth_code(&hash, &g, Duration::from_secs(60))
            .await
            .unwrap();
        // Reading leaves the code in place.
        assert_eq!(store.get_auth_code(&hash).await.unwrap(), Some(g.clone()));
        assert_eq!(store.get_auth_code(&hash).await.unwrap(), Some(g));
        assert_eq!(
            store
                .get_auth_code(&hash_token(b"never issued"))
                .await
                .unwrap(),
            None
        );
        // Of concurrent exchanges, each with its own token, exactly one
        // redeems the code; the others write nothing.
        let tokens: Arc<Vec<RefreshToken>> = Arc::new(
            (0..16)
                .map(|n| refresh(&format!("fam-{n}"), "alice"))
                .collect(),
        );
        let redeemed = concurrently(16, |n| {
            let (store, hash, tokens) = (store.clone(), hash.clone(), tokens.clone());
            async move {
                store
                    .redeem_auth_code(&hash, &format!("rt-{n}"), &tokens[n], in_secs(600))
                    .await
                    .unwrap()
            }
        })
        .await;
        let winners: Vec<usize> = (0..16).filter(|n| redeemed[*n]).collect();
        assert_eq!(winners.len(), 1, "{redeemed:?}");
        let winner = winners[0];
        for (n, token) in tokens.iter().enumerate() {
            let stored = store.get_refresh_token(&format!("rt-{n}")).await.unwrap();
            let expected = (n == winner).then(|| token.clone());
            assert_eq!(stored, expected, "exchange {n} (winner {winner})");
        }
        assert_eq!(store.get_auth_code(&hash).await.unwrap(), None);
        assert_eq!(store.take_auth_code(&hash).await.unwrap(), None);
        assert_eq!(
            store.redeemed_code_family(&hash).await.unwrap(),
            Some(format!("fam-{winner}")),
            "the code remembers the family of the exchange that redeemed it"
        );
        // A token hash already taken: refused, and the code stays.
        let other = hash_token(b"other-code");
        store
            .put_auth_code(&other, &grant("alice"), Duration::from_secs(60))
            .await
            .unwrap();
        let err = store
            .redeem_auth_code(
                &other,
                &format!("rt-{winner}"),
                &refresh("fam-x", "alice"),
                in_secs(600),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "already_exists");
        assert!(store.get_auth_code(&other).await.unwrap().is_some());
        assert_eq!(store.redeemed_code_family(&other).await.unwrap(), None);
        // A code that was never issued redeems nothing and stores nothing.
        assert!(
            !store
                .redeem_auth_code(
                    &hash_token(b"never issued"),
                    "rt-none",
                    &refresh("fam-n", "alice"),
                    in_secs(600)
                )
                .await
                .unwrap()
        );
        assert_eq!(store.get_refresh_token("rt-none").await.unwrap(), None);
    }

    pub async fn auth_codes_expire(store: Arc<dyn Store>) {
        let short = hash_token(b"short");
        let long = hash_token(b"long");
        store
            .put_auth_code(&short, &grant("alice"), SHORT_TTL)
            .await
            .unwrap();
        store
            .put_auth_code(&long, &grant("alice"), Duration::from_secs(60))
            .await
            .unwrap();
        tokio::time::sleep(PAST_SHORT_TTL).await;
        assert_eq!(store.get_auth_code(&short).await.unwrap(), None);
        assert!(
            !store
                .redeem_auth_code(
                    &short,
                    "rt-late",
                    &refresh("fam-late", "alice"),
                    in_secs(600)
                )
                .await
                .unwrap(),
            "an expired code is not redeemed"
        );
        assert_eq!(store.get_refresh_token("rt-late").await.unwrap(), None);
        assert_eq!(store.take_auth_code(&short).await.unwrap(), None);
        assert!(store.take_auth_code(&long).await.unwrap().is_some());
    }

    pub async fn refresh_rotation_detects_reuse(store: Arc<dyn Store>) {
        let t1 = refresh("fam", "alice");
        store.put_refresh_token("h1", &t1).await.unwrap();
        assert_eq!(
            store.put_refresh_token("h1", &t1).await.unwrap_err().code(),
            "already_exists"
        );
        let t2 = RefreshToken {
            issued_at: now(),
            ..t1.clone()
        };
        let old = store.rotate_refresh_token("h1", "h2", &t2).await.unwrap();
        assert_eq!(old, t1);
        assert!(store.get_refresh_token("h1").await.unwrap().unwrap().used);
        assert_eq!(store.get_refresh_token("h2").await.unwrap().unwrap(), t2);

        // Replaying the rotated token revokes the whole family.
        let t3 = RefreshToken {
            issued_at: now(),
            ..t1.clone()
        };
        let err = store
            .rotate_refresh_token("h1", "h3", &t3)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            StoreError::RefreshReuse {
                family_id: "fam".into()
            }
        );
        assert_eq!(err.code(), "refresh_reuse");
        assert_eq!(
            store.get_refresh_token("h2").await.unwrap(),
            None,
            "family revoked"
        );
        assert_eq!(store.get_refresh_token("h3").await.unwrap(), None);
        let err = store
            .rotate_refresh_token("h2", "h4", &t3)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_found");

        // A successor in another family is refused and changes nothing.
        let other = refresh("fam-b", "alice");
        store.put_refresh_token("b1", &other).await.unwrap();
        let err = store
            .rotate_refresh_token("b1", "b2", &refresh("fam-c", "alice"))
            .await;
        assert_eq!(err.unwrap_err().code(), "conflict");
        assert!(!store.get_refresh_token("b1").await.unwrap().unwrap().used);
        assert_eq!(store.get_refresh_token("b2").await.unwrap(), None);

        // Revoking one token, then a family.
        store
            .rotate_refresh_token("b1", "b2", &other)
            .await
            .unwrap();
        assert!(store.revoke_refresh_token("b2").await.unwrap());
        assert!(!store.revoke_refresh_token("b2").await.unwrap());
        assert_eq!(store.get_refresh_token("b2").await.unwrap(), None);
        assert!(store.get_refresh_token("b1").await.unwrap().is_some());
        store
            .put_refresh_token("c1", &refresh("fam-c", "bob"))
            .await
            .unwrap();
        assert_eq!(store.revoke_refresh_family("fam-b").await.unwrap(), 1);
        assert_eq!(store.get_refresh_token("b1").await.unwrap(), None);
        assert!(
            store.get_refresh_token("c1").await.unwrap().is_some(),
            "other family intact"
        );
        assert_eq!(store.revoke_refresh_family("fam-b").await.unwrap(), 0);
    }

    pub async fn concurrent_rotations_have_one_winner(store: Arc<dyn Store>) {
        let t = refresh("race", "alice");
        store.put_refresh_token("r0", &t).await.unwrap();
        let outcomes = concurrently(8, |i| {
            let store = store.clone();
            let t = t.clone();
            async move {
                store
                    .rotate_refresh_token("r0", &format!("r{}", i + 1), &t)
                    .await
            }
        })
        .await;
        let ok = outcomes.iter().filter(|o| o.is_ok()).count();
        assert_eq!(ok, 1, "exactly one rotation succeeds: {outcomes:?}");
        // The first loser finds the token used and revokes the family; later
        // ones find nothing left to rotate.
        let codes: Vec<&str> = outcomes
            .iter()
            .filter_map(|o| o.as_ref().err())
            .map(|e| e.code())
            .collect();
        assert!(codes.contains(&"refresh_reuse"), "{codes:?}");
        assert!(
            codes
                .iter()
                .all(|c| ["refresh_reuse", "not_found"].contains(c)),
            "{codes:?}"
        );
        for i in 0..=8 {
            assert_eq!(
                store.get_refresh_token(&format!("r{i}")).await.unwrap(),
                None
            );
        }
    }

    pub async fn refresh_tokens_expire(store: Arc<dyn Store>) {
        let mut t = refresh("fam-exp", "alice");
        t.expires_at = now() + SHORT_TTL;
        store.put_refresh_token("e1", &t).await.unwrap();
        assert!(store.get_refresh_token("e1").await.unwrap().is_some());
        tokio::time::sleep(PAST_SHORT_TTL).await;
        assert_eq!(store.get_refresh_token("e1").await.unwrap(), None);
        let next = refresh("fam-exp", "alice");
        let err = store
            .rotate_refresh_token("e1", "e2", &next)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_found");
    }

    pub async fn sessions_and_transactions_live_until_expiry(store: Arc<dyn Store>) {
        let session = BrowserSession {
            uid: "alice".into(),
            auth_time: now(),
            amr: vec!["pwd".into(), "otp".into()],
            created_at: now(),
            expires_at: now() + SHORT_TTL,
        };
        let sid = hash_token(b"session-cookie");
        store.put_session(&sid, &session).await.unwrap();
        assert_eq!(store.get_session(&sid).await.unwrap().unwrap(), session);
        assert_eq!(
            store.get_session(&hash_token(b"other")).await.unwrap(),
            None
        );

        let txn = SignInTransaction {
            payload: serde_json::json!({"client_id": "desktop", "stage": "password"}),
            expires_at: in_secs(600),
        };
        store.put_transaction("t1", &txn).await.unwrap();
        let mut advanced = txn.clone();
        advanced.payload["stage"] = "otp".into();
        store.put_transaction("t1", &advanced).await.unwrap();
        assert_eq!(
            store.get_transaction("t1").await.unwrap().unwrap(),
            advanced
        );
        assert!(store.delete_transaction("t1").await.unwrap());
        assert!(!store.delete_transaction("t1").await.unwrap());
        assert_eq!(store.get_transaction("t1").await.unwrap(), None);

        tokio::time::sleep(PAST_SHORT_TTL).await;
        assert_eq!(store.get_session(&sid).await.unwrap(), None);
        assert!(!store.delete_session(&sid).await.unwrap());

        let live = BrowserSession {
            expires_at: in_secs(600),
            ..session
        };
        store.put_session(&sid, &live).await.unwrap();
        assert!(store.delete_session(&sid).await.unwrap());
        assert_eq!(store.get_session(&sid).await.unwrap(), None);
    }

    pub async fn used_code_markers_refuse_replay(store: Arc<dyn Store>) {
        assert!(store.mark_code_used("a:100", SHORT_TTL).await.unwrap());
        assert!(!store.mark_code_used("a:100", SHORT_TTL).await.unwrap());
        assert!(store.mark_code_used("a:101", SHORT_TTL).await.unwrap());
        assert!(store.mark_code_used("b:100", SHORT_TTL).await.unwrap());
        let wins = concurrently(10, |_| {
            let store = store.clone();
            async move {
                store
                    .mark_code_used("c:7", Duration::from_secs(90))
                    .await
                    .unwrap()
            }
        })
        .await;
        assert_eq!(wins.iter().filter(|w| **w).count(), 1);
        tokio::time::sleep(PAST_SHORT_TTL).await;
        assert!(
            store.mark_code_used("a:100", SHORT_TTL).await.unwrap(),
            "marker expired"
        );
        assert!(
            !store.mark_code_used("c:7", SHORT_TTL).await.unwrap(),
            "longer TTL holds"
        );
    }

    pub async fn a_used_code_mark_taken_back_can_be_set_again(store: Arc<dyn Store>) {
        let ttl = Duration::from_secs(90);
        assert!(store.mark_code_used("a:1", ttl).await.unwrap());
        assert!(store.mark_code_used("a:2", ttl).await.unwrap());
        assert!(store.unmark_code_used("a:1").await.unwrap());
        assert!(
            !store.unmark_code_used("a:1").await.unwrap(),
            "already taken back"
        );
        assert!(!store.unmark_code_used("never").await.unwrap());
        assert!(store.mark_code_used("a:1", ttl).await.unwrap());
        // Only the mark named is taken back.
        assert!(!store.mark_code_used("a:2", ttl).await.unwrap());
        assert!(matches!(
            store.unmark_code_used("").await,
            Err(StoreError::Invalid(_))
        ));
    }

    pub async fn rate_limits_count_within_window(store: Arc<dyn Store>) {
        let window = Duration::from_secs(60);
        assert_eq!(store.rate_limit_count("login:alice").await.unwrap(), 0);
        assert_eq!(
            store.rate_limit_hit("login:alice", window).await.unwrap(),
            1
        );
        assert_eq!(
            store.rate_limit_hit("login:alice", window).await.unwrap(),
            2
        );
        assert_eq!(store.rate_limit_hit("login:bob", window).await.unwrap(), 1);
        assert_eq!(store.rate_limit_count("login:alice").await.unwrap(), 2);
        let left = store.rate_limit_ttl("login:alice").await.unwrap().unwrap();
        assert!(left > Duration::from_secs(50) && left <= window, "{left:?}");
        assert_eq!(store.rate_limit_ttl("login:nobody").await.unwrap(), None);
        store.rate_limit_reset("login:alice").await.unwrap();
        assert_eq!(store.rate_limit_ttl("login:alice").await.unwrap(), None);
        assert_eq!(store.rate_limit_count("login:alice").await.unwrap(), 0);
        assert_eq!(store.rate_limit_count("login:bob").await.unwrap(), 1);

        let counts = concurrently(20, |_| {
            let store = store.clone();
            async move { store.rate_limit_hit("ip:10.0.0.1", window).await.unwrap() }
        })
        .await;
        let counts: BTreeSet<u64> = counts.into_iter().collect();
        assert_eq!(counts, (1..=20).collect(), "every hit counted once");

        // Hits given back: concurrently, each exactly once, the window kept
        // while hits are left and ended with the last one.
        concurrently(15, |_| {
            let store = store.clone();
            async move { store.rate_limit_release(&["ip:10.0.0.1"]).await.unwrap() }
        })
        .await;
        assert_eq!(store.rate_limit_count("ip:10.0.0.1").await.unwrap(), 5);
        let left = store.rate_limit_ttl("ip:10.0.0.1").await.unwrap().unwrap();
        assert!(left > Duration::from_secs(50) && left <= window, "{left:?}");
        for _ in 0..5 {
            store.rate_limit_release(&["ip:10.0.0.1"]).await.unwrap();
        }
        assert_eq!(store.rate_limit_count("ip:10.0.0.1").await.unwrap(), 0);
        assert_eq!(store.rate_limit_ttl("ip:10.0.0.1").await.unwrap(), None);
        store.rate_limit_release(&["ip:10.0.0.1"]).await.unwrap();
        store
            .rate_limit_release(&["login:nobody", "login:bob"])
            .await
            .unwrap();
        assert_eq!(store.rate_limit_count("ip:10.0.0.1").await.unwrap(), 0);
        assert_eq!(store.rate_limit_ttl("login:nobody").await.unwrap(), None);
        assert_eq!(
            store.rate_limit_count("login:bob").await.unwrap(),
            0,
            "several at once"
        );
        assert_eq!(
            store.rate_limit_hit("ip:10.0.0.1", window).await.unwrap(),
            1,
            "a new window after the last hit was given back"
        );

        // Several keys in one call: each counted on its own, in order, each
        // window opened by its own first hit.
        assert_eq!(
            store
                .rate_limit_hits(&["multi:a", "ip:10.0.0.1", "multi:b"], window)
                .await
                .unwrap(),
            [1, 2, 1]
        );
        assert_eq!(
            store
                .rate_limit_hits(&["multi:b", "multi:a"], window)
                .await
                .unwrap(),
            [2, 2]
        );
        let left = store.rate_limit_ttl("multi:b").await.unwrap().unwrap();
        assert!(left > Duration::from_secs(50) && left <= window, "{left:?}");
        // A later hit counts in the open window, whatever window it names:
        // a window is not stretched by the hits made during it.
        assert_eq!(
            store
                .rate_limit_hits(&["multi:b"], window * 10)
                .await
                .unwrap(),
            [3]
        );
        let left = store.rate_limit_ttl("multi:b").await.unwrap().unwrap();
        assert!(left <= window, "{left:?}");
        assert!(store.rate_limit_hits(&[], window).await.unwrap().is_empty());
        let err = store
            .rate_limit_hits(&["multi:a", ""], window)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid");
        assert_eq!(
            store.rate_limit_count("multi:a").await.unwrap(),
            2,
            "a refused call counts nothing"
        );

        assert_eq!(store.rate_limit_hit("short", SHORT_TTL).await.unwrap(), 1);
        assert_eq!(store.rate_limit_hit("short", SHORT_TTL).await.unwrap(), 2);
        tokio::time::sleep(PAST_SHORT_TTL).await;
        assert_eq!(store.rate_limit_count("short").await.unwrap(), 0);
        assert_eq!(
            store.rate_limit_hit("short", SHORT_TTL).await.unwrap(),
            1,
            "new window"
        );
    }

    /// A removal of devices or trusted browsers appends its audit event in
    /// the same atomic step, when (and only when) something was removed, with
    /// the outcome's counts filled in by the store; text the caller gave
    /// (reason, user agent) comes back byte for byte.
    pub async fn removals_record_themselves(store: Arc<dyn Store>) {
        store
            .create_user(&user("remy", "remy@example.org", "Remy"))
            .await
            .unwrap();
        for id in ["r1", "r2", "r3"] {
            store
                .create_device(&device("remy", id, "Phone"))
                .await
                .unwrap();
        }
        store
            .create_device(&device("other", "o1", "Phone"))
            .await
            .unwrap();
        for id in ["w1", "w2", "w3"] {
            store
                .create_trusted_browser(&browser("remy", id, in_secs(3600)))
                .await
                .unwrap();
        }
        let mut event = audit("remy", AuditAction::DeviceDeleted, 1);
        event.reason = Some("lost phone: \"é\" / \\ \u{1F600} </script>".into());
        event.user_agent = Some("Agent/1.0 (ü; \t)".into());

        // Nothing removed, nothing recorded.
        assert!(!store.delete_device("remy", "o1", &event).await.unwrap());
        assert!(!store.delete_device("remy", "nope", &event).await.unwrap());
        assert!(
            !store
                .revoke_trusted_browser("remy", "nope", &event)
                .await
                .unwrap()
        );
        assert!(trail(&store, "remy").await.is_empty());

        // An event filed under another account is refused, and nothing changes.
        let elsewhere = audit("other", AuditAction::DeviceDeleted, 0);
        assert_eq!(
            store
                .delete_device("remy", "r1", &elsewhere)
                .await
                .unwrap_err()
                .code(),
            "invalid"
        );
        assert_eq!(store.list_devices("remy").await.unwrap().len(), 3);

        assert!(store.delete_device("remy", "r1", &event).await.unwrap());
        assert_eq!(
            store
                .delete_device_unless_last("remy", "r2", &event)
                .await
                .unwrap(),
            DeviceDeletion::Deleted
        );
        assert_eq!(
            store
                .delete_device_unless_last("remy", "r3", &event)
                .await
                .unwrap(),
            DeviceDeletion::LastDevice
        );
        assert_eq!(trail(&store, "remy").await, [event.clone(), event.clone()]);

        let revoked = audit("remy", AuditAction::BrowserRevoked, 2);
        assert!(
            store
                .revoke_trusted_browser("remy", "w1", &revoked)
                .await
                .unwrap()
        );
        let all = audit("remy", AuditAction::BrowsersRevoked, 3);
        assert_eq!(
            store
                .revoke_all_trusted_browsers("remy", &all)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            store
                .revoke_all_trusted_browsers("remy", &all)
                .await
                .unwrap(),
            0
        );

        store
            .create_trusted_browser(&browser("remy", "w4", in_secs(3600)))
            .await
            .unwrap();
        let mut reset = audit("remy", AuditAction::DevicesReset, 4);
        reset.reason = event.reason.clone();
        let outcome = store.reset_devices("remy", now(), &reset).await.unwrap();
        assert_eq!((outcome.devices, outcome.browsers), (1, 1));
        assert_eq!(
            store
                .reset_devices(
                    "nobody",
                    now(),
                    &audit("nobody", AuditAction::DevicesReset, 0)
                )
                .await
                .unwrap_err()
                .code(),
            "not_found"
        );
        assert!(
            store
                .list_audit("nobody", None, 10)
                .await
                .unwrap()
                .is_empty()
        );

        assert_eq!(
            trail(&store, "remy").await,
            [
                event.clone(),
                event,
                revoked,
                all.with_detail(REMOVED_COUNT, 2),
                all.with_detail(REMOVED_COUNT, 0),
                reset
                    .with_detail(REMOVED_COUNT, 1)
                    .with_detail(REMOVED_BROWSERS, 1),
            ]
        );
        assert!(
            store
                .list_audit("other", None, 10)
                .await
                .unwrap()
                .is_empty()
        );
    }

    /// A confirmation appends its event, naming the device, in the same
    /// step; a first device's recovery codes append theirs with it; a new
    /// set of codes appends its own. Nothing is recorded for a confirmation
    /// that does not happen.
    pub async fn additions_record_themselves(store: Arc<dyn Store>) {
        store
            .create_user(&user("cleo", "cleo@example.org", "Cleo"))
            .await
            .unwrap();
        for id in ["c1", "c2"] {
            store
                .put_pending_enrollment(&pending("cleo", id, in_secs(600)))
                .await
                .unwrap();
        }
        let hashes = vec![hash_token(b"code-1"), hash_token(b"code-2")];
        let (confirmed, codes) = (confirmation("cleo"), codes_event("cleo"));

        let err = store
            .confirm_enrollment(
                "cleo",
                "nope",
                now(),
                MAX_DEVICES,
                Some(first_codes(&hashes, &codes)),
                &confirmed,
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "not_found");
        let err = store
            .confirm_enrollment(
                "cleo",
                "c1",
                now(),
                MAX_DEVICES,
                None,
                &confirmation("other"),
            )
            .await
            .unwrap_err();
        assert_eq!(err.code(), "invalid");
        assert!(trail(&store, "cleo").await.is_empty());
        assert!(
            store
                .get_pending_enrollment("cleo", "c1")
                .await
                .unwrap()
                .is_some()
        );

        let first = store
            .confirm_enrollment(
                "cleo",
                "c1",
                now(),
                MAX_DEVICES,
                Some(first_codes(&hashes, &codes)),
                &confirmed,
            )
            .await
            .unwrap();
        assert!(first.first_device);
        let second = store
            .confirm_enrollment(
                "cleo",
                "c2",
                now(),
                MAX_DEVICES,
                Some(first_codes(&hashes, &codes)),
                &confirmed,
            )
            .await
            .unwrap();
        assert!(!second.first_device);
        let fresh = vec![hash_token(b"code-3")];
        let regenerated = audit("cleo", AuditAction::RecoveryCodesRegenerated, 9);
        store
            .replace_recovery_codes("cleo", &fresh, &regenerated)
            .await
            .unwrap();
        let named = |id: &str| {
            confirmed
                .with_detail(DEVICE_ID, id)
                .with_detail(DEVICE_NAME, format!("phone {id}"))
        };
        assert_eq!(
            trail(&store, "cleo").await,
            [named("c1"), codes.clone(), named("c2"), regenerated]
        );
        assert_eq!(store.count_recovery_codes("cleo").await.unwrap(), 1);
    }

    /// A confirmation beyond the most devices allowed is refused, and the
    /// enrolment kept; decided in the confirmation's atomic step, so
    /// concurrent confirmations never pass the bound.
    pub async fn devices_per_user_are_bounded(store: Arc<dyn Store>) {
        let max = 3;
        for n in 0..5 {
            store
                .put_pending_enrollment(&pending("dora", &format!("d{n}"), in_secs(600)))
                .await
                .unwrap();
        }
        let outcomes = concurrently(5, |n| {
            let store = store.clone();
            async move {
                store
                    .confirm_enrollment(
                        "dora",
                        &format!("d{n}"),
                        now(),
                        max,
                        None,
                        &confirmation("dora"),
                    )
                    .await
            }
        })
        .await;
        let refused: Vec<&StoreError> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
        assert_eq!(refused.len(), 2, "{outcomes:?}");
        for err in refused {
            assert_eq!(*err, StoreError::TooManyDevices { max });
        }
        assert_eq!(store.list_devices("dora").await.unwrap().len(), 3);
        assert_eq!(store.list_audit("dora", None, 10).await.unwrap().len(), 3);
        let kept: Vec<String> = (0..5)
            .map(|n| format!("d{n}"))
            .filter(|id| !outcomes.iter().flatten().any(|o| o.device.id == *id))
            .collect();
        for id in &kept {
            assert!(
                store
                    .get_pending_enrollment("dora", id)
                    .await
                    .unwrap()
                    .is_some()
            );
        }
        // With room again, a kept enrolment confirms.
        let gone = store.list_devices("dora").await.unwrap()[0].id.clone();
        assert!(
            store
                .delete_device("dora", &gone, &removal("dora"))
                .await
                .unwrap()
        );
        store
            .confirm_enrollment("dora", &kept[0], now(), max, None, &confirmation("dora"))
            .await
            .unwrap();
        assert_eq!(store.list_devices("dora").await.unwrap().len(), 3);
    }

    pub async fn audit_pages_newest_first(store: Arc<dyn Store>) {
        let mut alice_ids = Vec::new();
        for n in 0..5 {
            let appended = store
                .append_audit(&audit("alice", AuditAction::SignInSucceeded, n))
                .await;
            alice_ids.push(appended.unwrap().id);
            store
                .append_audit(&audit("bob", AuditAction::DeviceDeleted, n))
                .await
                .unwrap();
        }
        assert!(
            alice_ids.windows(2).all(|w| w[0] < w[1]),
            "ids increase: {alice_ids:?}"
        );

        let page1 = store.list_audit("alice", None, 2).await.unwrap();
        let page2 = store
            .list_audit("alice", Some(page1[1].id), 2)
            .await
            .unwrap();
        let page3 = store
            .list_audit("alice", Some(page2[1].id), 2)
            .await
            .unwrap();
        let page4 = store
            .list_audit("alice", Some(page3[0].id), 2)
            .await
            .unwrap();
        let paged: Vec<u64> = [&page1, &page2, &page3]
            .iter()
            .flat_map(|p| p.iter().map(|e| e.id))
            .collect();
        let mut newest_first = alice_ids.clone();
        newest_first.reverse();
        assert_eq!(paged, newest_first);
        assert!(page4.is_empty());
        assert_eq!(
            page1[0].event,
            audit("alice", AuditAction::SignInSucceeded, 4).with_at(page1[0].event.at)
        );
        assert!(
            page1
                .iter()
                .chain(&page2)
                .chain(&page3)
                .all(|e| e.event.subject == "alice")
        );
        assert_eq!(store.list_audit("bob", None, 100).await.unwrap().len(), 5);
        assert!(
            store
                .list_audit("carol", None, 10)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.list_audit("alice", None, 0).await.unwrap().is_empty());
    }

    pub async fn key_material_is_set_once(store: Arc<dyn Store>) {
        assert_eq!(store.get_key_material("signing-key").await.unwrap(), None);
        let winners = concurrently(8, |i| {
            let store = store.clone();
            async move {
                store
                    .put_key_material_if_absent("signing-key", format!("key-{i}").as_bytes())
                    .await
                    .unwrap()
            }
        })
        .await;
        let distinct: BTreeSet<Vec<u8>> = winners.into_iter().collect();
        assert_eq!(
            distinct.len(),
            1,
            "concurrent first starts agree on one key"
        );
        let stored = store
            .get_key_material("signing-key")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(distinct.into_iter().next().unwrap(), stored);
        store
            .put_key_material("signing-key", b"rotated")
            .await
            .unwrap();
        assert_eq!(
            store
                .get_key_material("signing-key")
                .await
                .unwrap()
                .unwrap(),
            b"rotated"
        );
        // Removed once; the other names are untouched.
        store
            .put_key_material("signing-key-retired", b"old")
            .await
            .unwrap();
        assert!(
            store
                .delete_key_material("signing-key-retired")
                .await
                .unwrap()
        );
        assert!(
            !store
                .delete_key_material("signing-key-retired")
                .await
                .unwrap()
        );
        assert_eq!(
            store.get_key_material("signing-key-retired").await.unwrap(),
            None
        );
        assert_eq!(
            store
                .get_key_material("signing-key")
                .await
                .unwrap()
                .unwrap(),
            b"rotated"
        );
        store.ping().await.unwrap();
    }
}

trait WithAt {
    fn with_at(self, at: OffsetDateTime) -> Self;
}

impl WithAt for NewAuditEvent {
    fn with_at(mut self, at: OffsetDateTime) -> Self {
        self.at = at;
        self
    }
}

/// Instantiates every case of `cases` for one implementation.
macro_rules! conformance {
    ($backend:ident, $make:path) => {
        mod $backend {
            use super::*;
            conformance!(@cases $make;
                users_are_unique_and_searchable,
                a_search_shared_by_many_users_lists_each_once_in_order,
                invalid_keys_are_refused_without_partial_state,
                hostile_keys_find_nothing,
                clients_are_unique,
                devices_belong_to_their_owner,
                reset_stamps_the_user_and_removes_what_devices_proved,
                listed_iff_usable_under_concurrency,
                concurrent_renames_never_duplicate,
                last_device_is_kept_when_asked,
                redeemed_codes_and_revoked_access_tokens_expire,
                enrollment_confirms_exactly_once,
                a_reset_voids_enrolments_started_before_it,
                removals_record_themselves,
                additions_record_themselves,
                devices_per_user_are_bounded,
                first_device_codes_are_set_once,
                pending_enrollments_expire,
                recovery_codes_are_single_use,
                trusted_browsers_are_revoked_one_at_a_time,
                trusted_browsers_expire,
                auth_codes_are_single_use,
                auth_codes_are_redeemed_once_with_their_token,
                auth_codes_expire,
                refresh_rotation_detects_reuse,
                concurrent_rotations_have_one_winner,
                refresh_tokens_expire,
                sessions_and_transactions_live_until_expiry,
                used_code_markers_refuse_replay,
                a_used_code_mark_taken_back_can_be_set_again,
                rate_limits_count_within_window,
                audit_pages_newest_first,
                key_material_is_set_once,
            );
        }
    };
    (@cases $make:path; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn $case() {
                let (store, _guard) = $make().await;
                cases::$case(store).await;
            }
        )*
    };
}

conformance!(embedded, support::embedded_store);
conformance!(embedded_in_memory, support::memory_store);
conformance!(redis, support::redis_store);

/// Behaviour only Redis has: the server can go away and come back.
mod redis_only {
    use super::*;

    /// Redis out of memory (`maxmemory` reached, `noeviction`) refuses a
    /// script whose first write needs memory, and lets one through whose first
    /// write frees some. Either way a removal and the audit event recording
    /// it are one script: refused together (a clear `unavailable`, nothing
    /// removed, nothing recorded) or done together. Reads still work.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn out_of_memory_never_parts_a_removal_from_its_record() {
        let (store, mut guard) = support::redis_store().await;
        store
            .create_user(&user("olga", "olga@example.org", "Olga"))
            .await
            .unwrap();
        for id in ["o1", "o2"] {
            store
                .create_device(&device("olga", id, "Phone"))
                .await
                .unwrap();
        }
        store
            .create_trusted_browser(&browser("olga", "w1", in_secs(3600)))
            .await
            .unwrap();
        let server = guard.redis().expect("a redis store");
        let event = removal("olga");

        server.config_set("maxmemory", "1");
        // The reset's first write stamps the user record: refused whole.
        let err = store
            .reset_devices("olga", now(), &event)
            .await
            .unwrap_err();
        assert_eq!(err.code(), "unavailable", "{err}");
        assert_eq!(
            ids(&store.list_devices("olga").await.unwrap()),
            ["o1", "o2"]
        );
        assert_eq!(store.list_trusted_browsers("olga").await.unwrap().len(), 1);
        assert_eq!(trail(&store, "olga").await.len(), 0);

        // The others start by removing: whatever Redis decides, the removal
        // and its record go together.
        let deleted = store.delete_device("olga", "o1", &event).await;
        let device_left = store.get_device("olga", "o1").await.unwrap().is_some();
        match deleted {
            Ok(true) => assert!(!device_left),
            Err(err) => assert!(err.code() == "unavailable" && device_left, "{err}"),
            Ok(false) => panic!("o1 is olga's"),
        }
        let recorded = trail(&store, "olga").await.len();
        assert_eq!(recorded, usize::from(!device_left));
        let revoked = store.revoke_trusted_browser("olga", "w1", &event).await;
        let browser_left = !store
            .list_trusted_browsers("olga")
            .await
            .unwrap()
            .is_empty();
        match revoked {
            Ok(true) => assert!(!browser_left),
            Err(err) => assert!(err.code() == "unavailable" && browser_left, "{err}"),
            Ok(false) => panic!("w1 is olga's"),
        }
        assert_eq!(
            trail(&store, "olga").await.len(),
            recorded + usize::from(!browser_left)
        );

        server.config_set("maxmemory", "0");
        let before = trail(&store, "olga").await.len();
        let reset = store.reset_devices("olga", now(), &event).await.unwrap();
        assert_eq!(reset.devices, 1 + u64::from(device_left));
        assert_eq!(reset.browsers, u64::from(browser_left));
        let after = trail(&store, "olga").await;
        assert_eq!(after.len(), before + 1);
        assert_eq!(
            after[before].details[REMOVED_COUNT],
            reset.devices.to_string()
        );
        assert!(store.list_devices("olga").await.unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn survives_a_server_restart() {
        let (store, mut guard) = support::redis_store().await;
        store
            .create_device(&device("alice", "before", "Phone"))
            .await
            .unwrap();

        let server = guard.redis().expect("a redis store");
        server.stop();
        let err = store.list_devices("alice").await.unwrap_err();
        assert_eq!(err.code(), "unavailable", "while down: {err}");
        let err = store
            .create_device(&device("alice", "during", "Phone"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "unavailable");
        assert_eq!(store.ping().await.unwrap_err().code(), "unavailable");

        server.restart();
        // The connection manager reconnects in the background; give it a
        // bounded number of attempts (not a timing assertion).
        let mut attempts = 0;
        while store.ping().await.is_err() {
            attempts += 1;
            assert!(attempts < 100, "store did not reconnect after the restart");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // The same store object works again (the server kept no data).
        store
            .create_device(&device("alice", "after", "Phone"))
            .await
            .unwrap();
        assert_eq!(ids(&store.list_devices("alice").await.unwrap()), ["after"]);
        assert!(
            store
                .mark_code_used("after:1", Duration::from_secs(60))
                .await
                .unwrap()
        );
    }

    /// With Sentinel the store follows a failover: the primary is killed,
    /// Sentinel promotes the replica, and the same store object writes to
    /// the new primary (after answering Unavailable meanwhile).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn follows_a_sentinel_failover() {
        let mut primary = support::RedisServer::start();
        let replica = support::RedisServer::start_replica_of(&primary);
        let sentinel = support::RedisServer::start_sentinel(&primary, "tessera");
        let store = tessera_provider::store::RedisStore::connect_sentinel(
            &[sentinel.url()],
            "tessera",
            "t:",
        )
        .await
        .unwrap();
        store
            .create_device(&device("alice", "before", "Phone"))
            .await
            .unwrap();
        // Bounded waits below (attempt counts), not timing assertions.
        // Three keys: the device, its owner and the layout marker.
        let mut attempts = 0;
        while !replica
            .info("keyspace")
            .is_some_and(|k| k.contains("keys=3"))
        {
            attempts += 1;
            assert!(attempts < 100, "the device never reached the replica");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }

        primary.stop();
        let mut attempts = 0;
        loop {
            match store
                .create_device(&device("alice", "after", "Phone"))
                .await
            {
                Ok(()) => break,
                Err(err) => assert_eq!(err.code(), "unavailable", "{err}"),
            }
            attempts += 1;
            assert!(attempts < 300, "no failover to the replica");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(
            ids(&store.list_devices("alice").await.unwrap()),
            ["before", "after"]
        );
        assert!(
            replica.info("replication").unwrap().contains("role:master"),
            "the store writes to the promoted replica"
        );
    }

    #[tokio::test]
    async fn sentinel_without_primary_is_unavailable() {
        let primary = support::RedisServer::start();
        let sentinel = support::RedisServer::start_sentinel(&primary, "tessera");
        let store = tessera_provider::store::RedisStore::connect_sentinel(
            &[sentinel.url()],
            "unknown-service",
            "t:",
        )
        .await;
        assert_eq!(store.err().unwrap().code(), "unavailable");
        let none =
            tessera_provider::store::RedisStore::connect_sentinel(&[], "tessera", "t:").await;
        assert_eq!(none.err().unwrap().code(), "invalid");
    }

    /// `rediss://` with the organisation's CA works; without trusting that
    /// CA the connection is refused (the certificate is really checked).
    #[tokio::test]
    async fn connects_over_tls_checking_the_certificate() {
        let issued = rcgen::generate_simple_self_signed(vec![
            "127.0.0.1".to_owned(),
            "localhost".to_owned(),
        ])
        .unwrap();
        let cert = issued.cert.pem();
        let server = support::RedisServer::start_tls(&cert, &issued.signing_key.serialize_pem());
        let store = tessera_provider::store::RedisStore::connect_with_ca(
            &server.tls_url(),
            cert.as_bytes(),
            "t:",
        )
        .await
        .unwrap();
        store
            .create_device(&device("alice", "d1", "Phone"))
            .await
            .unwrap();
        assert_eq!(ids(&store.list_devices("alice").await.unwrap()), ["d1"]);

        let untrusted = tessera_provider::store::RedisStore::connect(&server.tls_url(), "t:").await;
        assert_eq!(untrusted.err().unwrap().code(), "unavailable");
        let other = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
        let wrong_ca = tessera_provider::store::RedisStore::connect_with_ca(
            &server.tls_url(),
            other.cert.pem().as_bytes(),
            "t:",
        )
        .await;
        assert_eq!(wrong_ca.err().unwrap().code(), "unavailable");
    }

    #[tokio::test]
    async fn connecting_to_a_stopped_server_is_unavailable() {
        let mut server = support::RedisServer::start();
        let url = server.url();
        server.stop();
        let err = tessera_provider::store::RedisStore::connect(&url, "t:")
            .await
            .err()
            .unwrap();
        assert_eq!(err.code(), "unavailable", "{err}");
        let err = tessera_provider::store::RedisStore::connect("not a url", "t:")
            .await
            .err()
            .unwrap();
        assert_eq!(err.code(), "invalid", "{err}");
    }

    /// The keys matching `pattern`, sorted.
    async fn keys(conn: &mut ::redis::aio::MultiplexedConnection, pattern: &str) -> Vec<String> {
        let mut keys: Vec<String> = ::redis::cmd("KEYS")
            .arg(pattern)
            .query_async(conn)
            .await
            .unwrap();
        keys.sort();
        keys
    }

    /// A client found is kept in the process for `CLIENT_TTL`: one added is
    /// found at once, one removed (or changed) by hand in Redis is still
    /// served that long, then no more.
    #[tokio::test]
    async fn a_client_edited_by_hand_is_seen_within_the_cache_ttl() {
        let server = support::RedisServer::start();
        let store = tessera_provider::store::RedisStore::connect(&server.url(), "t:")
            .await
            .unwrap();
        assert_eq!(store.get_client("app").await.unwrap(), None);
        let app = Client {
            client_id: "app".into(),
            name: "App".into(),
            redirect_uris: vec!["http://127.0.0.1/callback".into()],
            post_logout_redirect_uris: vec![],
            public: true,
            secret_hash: None,
            require_mfa: None,
            created_at: now(),
        };
        store.create_client(&app).await.unwrap();
        assert_eq!(store.get_client("app").await.unwrap().as_ref(), Some(&app));
        let mut conn = server.connection().await;
        let removed: u64 = ::redis::cmd("DEL")
            .arg("t:client:app")
            .query_async(&mut conn)
            .await
            .unwrap();
        assert_eq!(removed, 1);
        assert_eq!(store.get_client("app").await.unwrap().as_ref(), Some(&app));
        tokio::time::sleep(tessera_provider::store::redis::CLIENT_TTL + Duration::from_millis(200))
            .await;
        assert_eq!(store.get_client("app").await.unwrap(), None);
    }

    #[tokio::test]
    async fn keys_carry_the_configured_prefix() {
        let server = support::RedisServer::start();
        let store = tessera_provider::store::RedisStore::connect(&server.url(), "acme:")
            .await
            .unwrap();
        store
            .create_device(&device("alice", "d1", "Phone"))
            .await
            .unwrap();
        let mut conn = server.connection().await;
        assert_eq!(
            keys(&mut conn, "*").await,
            ["acme:device-owner:d1", "acme:devices:alice", "acme:layout"]
        );
    }

    /// A device's last use is written in place by one script; a record in
    /// another form (fields in another order) is updated the general way,
    /// and a name that looks like the field it replaces is left alone.
    #[tokio::test]
    async fn a_device_is_touched_in_place_or_the_general_way() {
        let server = support::RedisServer::start();
        let mut conn = server.connection().await;
        let store = tessera_provider::store::RedisStore::connect(&server.url(), "t:")
            .await
            .unwrap();
        let tricky = device("alice", "d1", ",\"last_used_at\":null}");
        store.create_device(&tricky).await.unwrap();
        store
            .create_device(&device("alice", "d2", "Tablet"))
            .await
            .unwrap();
        // d2 rewritten with its fields in alphabetical order.
        let reordered =
            serde_json::to_string(&serde_json::to_value(device("alice", "d2", "Tablet")).unwrap())
                .unwrap();
        assert!(!reordered.ends_with("null}"), "{reordered}");
        let _: () = ::redis::cmd("HSET")
            .arg("t:devices:alice")
            .arg("d2")
            .arg(reordered)
            .query_async(&mut conn)
            .await
            .unwrap();
        let (first, second) = (now(), now() + time::Duration::seconds(30));
        // Reads of a device record: one per touch in place (inside the
        // script), three the general way (the script's, its own read, the
        // compare-and-set's), which writes the record in this version's
        // form: d2's second touch is in place.
        let hget_calls = |conn: &mut ::redis::aio::MultiplexedConnection| {
            let mut conn = conn.clone();
            async move {
                let info: String = ::redis::cmd("INFO")
                    .arg("commandstats")
                    .query_async(&mut conn)
                    .await
                    .unwrap();
                info.lines()
                    .find_map(|l| l.strip_prefix("cmdstat_hget:calls="))
                    .and_then(|rest| rest.split(',').next()?.parse::<u64>().ok())
                    .unwrap_or(0)
            }
        };
        for (id, reads) in [("d1", 1 + 1), ("d2", 3 + 1)] {
            let before = hget_calls(&mut conn).await;
            for at in [first, second] {
                store.touch_device("alice", id, at).await.unwrap();
            }
            assert_eq!(hget_calls(&mut conn).await - before, reads, "{id}");
        }
        let d1 = store.get_device("alice", "d1").await.unwrap().unwrap();
        assert_eq!(d1.name, tricky.name);
        assert_eq!(d1.last_used_at, Some(second));
        let d2 = store.get_device("alice", "d2").await.unwrap().unwrap();
        assert_eq!(
            (d2.name.as_str(), d2.last_used_at),
            ("Tablet", Some(second))
        );
        assert_eq!(
            store.touch_device("alice", "d9", first).await.unwrap_err(),
            StoreError::NotFound { what: "device" }
        );
        assert_eq!(
            store.touch_device("bob", "d1", first).await.unwrap_err(),
            StoreError::NotFound { what: "device" }
        );
    }

    /// Devices written in layout 1 (a string per device, a set of ids per
    /// user) are all still there, and only there, after connecting: listed,
    /// readable, renamable, their ids still taken. Another prefix's data is
    /// left alone even when the prefix holds glob characters.
    #[tokio::test]
    async fn devices_of_layout_1_are_moved_at_connect() {
        let server = support::RedisServer::start();
        let mut conn = server.connection().await;
        let old = [
            device("alice", "d1", "Phone"),
            device("alice", "d2", "Tablet"),
            device("bob", "d3", "Bob's phone"),
        ];
        for prefix in ["t[1]:", "t1:"] {
            for d in &old {
                let json = serde_json::to_string(d).unwrap();
                let _: () = ::redis::pipe()
                    .cmd("SET")
                    .arg(format!("{prefix}device:{}", d.id))
                    .arg(json)
                    .cmd("SADD")
                    .arg(format!("{prefix}user-devices:{}", d.uid))
                    .arg(&d.id)
                    .query_async(&mut conn)
                    .await
                    .unwrap();
            }
        }
        // A dangling id (its record expired or lost) is dropped, not invented.
        let _: () = ::redis::cmd("SADD")
            .arg("t[1]:user-devices:alice")
            .arg("gone")
            .query_async(&mut conn)
            .await
            .unwrap();

        let store = tessera_provider::store::RedisStore::connect(&server.url(), "t[1]:")
            .await
            .unwrap();
        assert_eq!(
            store.list_devices("alice").await.unwrap(),
            [old[0].clone(), old[1].clone()]
        );
        assert_eq!(store.list_devices("bob").await.unwrap(), [old[2].clone()]);
        assert_eq!(store.get_device("alice", "d3").await.unwrap(), None);
        let err = store
            .create_device(&device("carol", "d3", "steal"))
            .await
            .unwrap_err();
        assert_eq!(err, StoreError::AlreadyExists { what: "device" });
        let renamed = store.rename_device("alice", "d2", "iPad").await.unwrap();
        assert_eq!(renamed.secret, old[1].secret);

        assert_eq!(
            keys(&mut conn, "t[[]1]:*").await,
            [
                "t[1]:device-owner:d1",
                "t[1]:device-owner:d2",
                "t[1]:device-owner:d3",
                "t[1]:devices:alice",
                "t[1]:devices:bob",
                "t[1]:layout",
            ]
        );
        assert_eq!(
            keys(&mut conn, "t1:*").await,
            [
                "t1:device:d1",
                "t1:device:d2",
                "t1:device:d3",
                "t1:user-devices:alice",
                "t1:user-devices:bob",
            ]
        );

        // Connecting again (another instance, a restart) changes nothing.
        drop(store);
        let again = tessera_provider::store::RedisStore::connect(&server.url(), "t[1]:")
            .await
            .unwrap();
        let listed = again.list_devices("alice").await.unwrap();
        assert_eq!(ids(&listed), ["d1", "d2"]);
        assert_eq!(listed[1].name, "iPad");
    }
}

/// Behaviour only the embedded store has: it is a file that outlives the
/// process.
mod embedded_only {
    use super::*;
    use tessera_provider::store::EmbeddedStore;

    #[tokio::test]
    async fn a_store_closed_cleanly_was_never_recovered_from_a_crash() {
        let dir = tempfile::tempdir().unwrap();
        for n in 0..2 {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            assert_eq!(store.recovered_at(), None);
            store
                .create_device(&device("alice", &format!("d{n}"), "Phone"))
                .await
                .unwrap();
        }
    }

    #[tokio::test]
    async fn data_survives_reopening_the_file() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = EmbeddedStore::open(dir.path()).unwrap();
            store
                .create_device(&device("alice", "d1", "Phone"))
                .await
                .unwrap();
            store.put_key_material("signing-key", b"k").await.unwrap();
        }
        let store = EmbeddedStore::open(dir.path()).unwrap();
        assert_eq!(ids(&store.list_devices("alice").await.unwrap()), ["d1"]);
        assert_eq!(
            store
                .get_key_material("signing-key")
                .await
                .unwrap()
                .unwrap(),
            b"k"
        );
    }

    /// Set in the child process of the crash test: the data directory it
    /// writes to until it is killed.
    const CRASH_CHILD_ENV: &str = "TESSERA_STORE_CRASH_CHILD";
    const CRASH_TEST: &str = "embedded_only::device_invariant_survives_being_killed_mid_write";

    /// "Listed iff usable" must also hold after a crash: a child process
    /// (this test binary, re-run in child mode) confirms, renames and deletes
    /// devices in a loop and is killed with SIGKILL at some point; the
    /// reopened file must show every device exactly as listed ⇔ fetchable,
    /// and no id both pending and confirmed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn device_invariant_survives_being_killed_mid_write() {
        if let Some(dir) = std::env::var_os(CRASH_CHILD_ENV) {
            return crash_child(std::path::PathBuf::from(dir)).await;
        }
        use std::io::BufRead;
        let dir = tempfile::tempdir().unwrap();
        for round in 0..3u64 {
            let mut child = std::process::Command::new(std::env::current_exe().unwrap())
                .args([CRASH_TEST, "--exact", "--nocapture", "--test-threads=1"])
                .env(CRASH_CHILD_ENV, dir.path())
                .env("TESSERA_STORE_CRASH_ROUND", round.to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
            let mut lines = stdout.lines();
            let progress = loop {
                let line = lines
                    .next()
                    .expect("crash child ended before writing")
                    .unwrap();
                if let Some(n) = line.strip_prefix("crash-child: wrote ") {
                    let n: u64 = n.parse().unwrap();
                    if n >= 20 * (round + 1) {
                        break n;
                    }
                }
            };
            child.kill().unwrap();
            child.wait().unwrap();

            let reopened_at = now().unix_timestamp();
            let store = EmbeddedStore::open(dir.path()).unwrap();
            // The kill is taken for a crash: codes from before the reopen
            // are refused from now on (signin_flows).
            let recovered = store.recovered_at().expect("the crash is noticed");
            assert!(
                (reopened_at..=now().unix_timestamp()).contains(&recovered.unix_timestamp()),
                "{recovered} is the reopen"
            );
            let listed = store.list_devices("alice").await.unwrap();
            let listed_ids: BTreeSet<&str> = ids(&listed).into_iter().collect();
            assert_eq!(
                listed_ids.len(),
                listed.len(),
                "no duplicates after a crash"
            );
            let mut usable = 0;
            // The child may have committed a few more iterations than it
            // reported before the kill landed.
            for i in 0..progress + 1000 {
                let id = format!("r{round}-{i}");
                let device = store.get_device("alice", &id).await.unwrap();
                let pending = store.get_pending_enrollment("alice", &id).await.unwrap();
                assert!(
                    !(device.is_some() && pending.is_some()),
                    "{id} both pending and device"
                );
                assert_eq!(
                    listed_ids.contains(id.as_str()),
                    device.is_some(),
                    "{id}: listed ⇔ usable"
                );
                usable += usize::from(device.is_some());
            }
            assert!(usable > 0, "round {round}: some devices survived");
            drop(store);
            // Closed cleanly and opened again, it remembers the recovery.
            let again = EmbeddedStore::open(dir.path()).unwrap();
            assert_eq!(again.recovered_at(), Some(recovered));
        }
    }

    async fn crash_child(dir: std::path::PathBuf) {
        let round: u64 = std::env::var("TESSERA_STORE_CRASH_ROUND")
            .unwrap()
            .parse()
            .unwrap();
        let store = EmbeddedStore::open(&dir).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        let mut i = 0u64;
        while std::time::Instant::now() < deadline {
            let id = format!("r{round}-{i}");
            store
                .put_pending_enrollment(&pending("alice", &id, in_secs(600)))
                .await
                .unwrap();
            store
                .confirm_enrollment(
                    "alice",
                    &id,
                    now(),
                    // Devices pile up here: the bound is not under test.
                    u32::MAX,
                    None,
                    &confirmation("alice"),
                )
                .await
                .unwrap();
            store
                .rename_device("alice", &id, &format!("renamed {i}"))
                .await
                .unwrap();
            if i.is_multiple_of(3) {
                store
                    .delete_device("alice", &id, &removal("alice"))
                    .await
                    .unwrap();
            }
            if i.is_multiple_of(5) && i >= 2 {
                store
                    .delete_device("alice", &format!("r{round}-{}", i - 2), &removal("alice"))
                    .await
                    .unwrap();
            }
            i += 1;
            println!("crash-child: wrote {i}");
        }
    }

    #[tokio::test]
    async fn purge_removes_expired_records() {
        let dir = tempfile::tempdir().unwrap();
        let store = EmbeddedStore::open(dir.path()).unwrap();
        store
            .put_auth_code("c", &grant("alice"), SHORT_TTL)
            .await
            .unwrap();
        store
            .create_trusted_browser(&browser("alice", "b", now() + SHORT_TTL))
            .await
            .unwrap();
        store
            .put_pending_enrollment(&pending("alice", "p", now() + SHORT_TTL))
            .await
            .unwrap();
        store
            .mark_code_used("d:1", Duration::from_secs(60))
            .await
            .unwrap();
        tokio::time::sleep(PAST_SHORT_TTL).await;
        assert_eq!(store.purge_expired().await.unwrap(), 3);
        assert_eq!(store.purge_expired().await.unwrap(), 0);
        assert!(
            !store
                .mark_code_used("d:1", Duration::from_secs(60))
                .await
                .unwrap()
        );
    }
}
