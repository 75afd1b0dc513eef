use super::*;

struct Files {
    _dir: tempfile::TempDir,
    system: PathBuf,
    user: PathBuf,
}

fn files(system: &str, user: &str) -> Files {
    let dir = tempfile::tempdir().unwrap();
    let system_path = dir.path().join("system.toml");
    let user_path = dir.path().join("user").join("config.toml");
    if !system.is_empty() {
        std::fs::write(&system_path, system).unwrap();
    }
    if !user.is_empty() {
        std::fs::create_dir_all(user_path.parent().unwrap()).unwrap();
        std::fs::write(&user_path, user).unwrap();
    }
    Files {
        _dir: dir,
        system: system_path,
        user: user_path,
    }
}

fn sources(f: &Files, env: &[(&str, &str)], flags: Layer) -> Sources {
    Sources {
        system_file: Some(f.system.clone()),
        user_file: Some(f.user.clone()),
        env: Layer::from_env(env.iter().copied()).unwrap(),
        flags,
    }
}

#[test]
fn defaults_apply_when_only_the_issuer_is_set() {
    let f = files("", "issuer = \"https://id.example.org/\"\n");
    let c = Config::load(&sources(&f, &[], Layer::default())).unwrap();
    assert_eq!(c.issuer.as_str(), "https://id.example.org");
    assert_eq!(c.client_id, "tessera-desktop");
    assert_eq!(c.account_api.as_str(), "https://id.example.org/api");
    assert_eq!(c.accepted_acr, policy::default_accepted_acr());
    assert_eq!(c.login_timeout, Duration::from_secs(900));
    assert_eq!(c.origins[&Setting::ClientId], Origin::Default);
    assert!(matches!(c.origins[&Setting::Issuer], Origin::UserFile(_)));
}

#[test]
fn precedence_is_flags_then_env_then_user_then_system_defaults() {
    let f = files(
        "language = \"fr\"\nlogin_timeout_secs = 60\n",
        "issuer = \"https://user.example.org\"\nlanguage = \"en\"\n",
    );
    let env = [
        ("TESSERA_ISSUER", "https://env.example.org"),
        ("TESSERA_LOGIN_TIMEOUT_SECS", "90"),
    ];
    let c = Config::load(&sources(&f, &env, Layer::default())).unwrap();
    assert_eq!(c.issuer.as_str(), "https://env.example.org");
    assert_eq!(c.login_timeout, Duration::from_secs(90));
    assert_eq!(
        c.language_setting,
        Some(Lang::En),
        "user file beats system defaults"
    );
    assert_eq!(
        c.origins[&Setting::Issuer],
        Origin::Env("TESSERA_ISSUER".into())
    );

    let flags = Layer {
        issuer: Some("https://flag.example.org".into()),
        ..Layer::default()
    };
    let c = Config::load(&sources(&f, &env, flags)).unwrap();
    assert_eq!(c.issuer.as_str(), "https://flag.example.org");
    assert_eq!(c.origins[&Setting::Issuer], Origin::Flag("--issuer".into()));

    let f = files(
        "language = \"fr\"\n",
        "issuer = \"https://user.example.org\"\n",
    );
    let c = Config::load(&sources(&f, &[], Layer::default())).unwrap();
    assert_eq!(
        c.language_setting,
        Some(Lang::Fr),
        "non-security system settings are defaults"
    );
    assert!(!c.is_managed(Setting::Language));
}

#[test]
fn managed_security_settings_cannot_be_overridden() {
    let f = files(
        "issuer = \"https://id.gouv.example\"\nclient_id = \"org-desktop\"\naccepted_acr = [\"eidas2\"]\n",
        "issuer = \"https://evil.example\"\naccount_api = \"https://evil.example/api\"\n",
    );
    let env = [
        ("TESSERA_CLIENT_ID", "mine"),
        ("TESSERA_ACCEPTED_ACR", "eidas1"),
    ];
    let flags = Layer {
        issuer: Some("https://flag.example".into()),
        ..Layer::default()
    };
    let c = Config::load(&sources(&f, &env, flags)).unwrap();
    assert_eq!(c.issuer.as_str(), "https://id.gouv.example");
    assert_eq!(c.client_id, "org-desktop");
    assert_eq!(c.accepted_acr, vec!["eidas2".to_owned()]);
    assert_eq!(
        c.account_api.as_str(),
        "https://id.gouv.example/api",
        "the account API follows the managed issuer"
    );
    for s in [
        Setting::Issuer,
        Setting::ClientId,
        Setting::AcceptedAcr,
        Setting::AccountApi,
    ] {
        assert!(c.is_managed(s), "{s:?}");
    }
    let ignored: Vec<Setting> = c.ignored.iter().map(|(s, _)| *s).collect();
    assert!(ignored.contains(&Setting::Issuer));
    assert!(ignored.contains(&Setting::ClientId));
    assert!(ignored.contains(&Setting::AcceptedAcr));
    assert!(ignored.contains(&Setting::AccountApi));
    assert!(
        c.ignored
            .contains(&(Setting::Issuer, Origin::Flag("--issuer".into())))
    );

    let err = c
        .set_user_setting(Setting::Issuer, Some("https://other.example"))
        .unwrap_err();
    assert!(matches!(
        err,
        ConfigError::Managed {
            setting: Setting::Issuer,
            ..
        }
    ));
    assert!(err.message(Lang::Fr).contains("est géré par"));
    // Language is not managed: the user may set it.
    c.set_user_setting(Setting::Language, Some("fr")).unwrap();
    let c = Config::load(&sources(&f, &[], Layer::default())).unwrap();
    assert_eq!(c.language_setting, Some(Lang::Fr));
}

#[test]
fn missing_issuer_names_the_setting_and_where_to_set_it() {
    let f = files("", "");
    let err = Config::load(&sources(&f, &[], Layer::default())).unwrap_err();
    let en = err.to_string();
    assert!(en.contains("`issuer`"), "{en}");
    assert!(
        en.contains("TESSERA_ISSUER") && en.contains("--issuer"),
        "{en}"
    );
    assert!(en.contains(&f.user.display().to_string()), "{en}");
    assert!(err.message(Lang::Fr).contains("aucun réglage `issuer`"));
}

#[test]
fn invalid_values_name_the_setting_and_the_file() {
    let f = files("", "issuer = \"http://id.example.org\"\n");
    let err = Config::load(&sources(&f, &[], Layer::default())).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("`issuer`") && msg.contains(&f.user.display().to_string()),
        "{msg}"
    );
    assert!(msg.contains("https"), "{msg}");
    assert!(err.message(Lang::Fr).contains("doit utiliser https"));

    let f = files("", "issuer = \"https://a.example\"\naccepted_acr = []\n");
    let err = Config::load(&sources(&f, &[], Layer::default())).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                setting: Setting::AcceptedAcr,
                ..
            }
        ),
        "{err}"
    );

    let f = files("", "issuer = \"https://a.example\"\nlanguage = \"de\"\n");
    let err = Config::load(&sources(&f, &[], Layer::default())).unwrap_err();
    assert!(err.to_string().contains("`language`"), "{err}");

    let f = files("", "issuer = \"https://a.example\"\n");
    let err = Config::load(&sources(
        &f,
        &[("TESSERA_LOGIN_TIMEOUT_SECS", "5")],
        Layer::default(),
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("TESSERA_LOGIN_TIMEOUT_SECS"),
        "{err}"
    );
    assert!(Layer::from_env([("TESSERA_LOGIN_TIMEOUT_SECS", "soon")]).is_err());
}

#[test]
fn unknown_keys_and_bad_toml_name_the_file() {
    let f = files("isuer = \"https://a.example\"\n", "");
    let err = Config::load(&sources(&f, &[], Layer::default())).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&f.system.display().to_string()) && msg.contains("isuer"),
        "{msg}"
    );

    let f = files("", "issuer = \n");
    let err = Config::load(&sources(&f, &[], Layer::default())).unwrap_err();
    assert!(matches!(err, ConfigError::File { .. }), "{err}");
}

#[test]
fn env_acr_list_accepts_commas_and_spaces() {
    let l = Layer::from_env([
        ("TESSERA_ACCEPTED_ACR", "eidas2, eidas3 eidas1-mfa"),
        ("HOME", "/x"),
    ])
    .unwrap();
    assert_eq!(
        l.accepted_acr.unwrap(),
        vec!["eidas2", "eidas3", "eidas1-mfa"]
    );
}

#[test]
fn set_user_setting_keeps_other_settings_and_refuses_bad_values() {
    let f = files("", "issuer = \"https://a.example\"\n");
    let c = Config::load(&sources(&f, &[], Layer::default())).unwrap();
    c.set_user_setting(Setting::Language, Some("en")).unwrap();
    let err = c
        .set_user_setting(Setting::Issuer, Some("http://plain.example"))
        .unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::Invalid {
                setting: Setting::Issuer,
                ..
            }
        ),
        "{err}"
    );
    let c = Config::load(&sources(&f, &[], Layer::default())).unwrap();
    assert_eq!(
        c.issuer.as_str(),
        "https://a.example",
        "a refused value is not written"
    );
    assert_eq!(c.language_setting, Some(Lang::En));
}

#[test]
fn sources_can_set_the_issuer_before_any_is_configured() {
    let f = files("language = \"fr\"\n", "");
    let src = sources(&f, &[], Layer::default());
    assert!(matches!(
        Config::load(&src),
        Err(ConfigError::Missing { .. })
    ));
    src.set_user_setting(Setting::Issuer, Some("https://id.example.org"))
        .unwrap();
    let c = Config::load(&src).unwrap();
    assert_eq!(c.issuer.as_str(), "https://id.example.org");
    assert!(!src.is_managed(Setting::Issuer).unwrap());

    let managed = files("issuer = \"https://org.example\"\n", "");
    let src = sources(&managed, &[], Layer::default());
    assert!(src.is_managed(Setting::Issuer).unwrap());
    assert!(
        src.is_managed(Setting::AccountApi).unwrap(),
        "follows the managed issuer"
    );
    assert!(!src.is_managed(Setting::Language).unwrap());
    assert!(matches!(
        src.set_user_setting(Setting::AccountApi, Some("https://elsewhere.example/api")),
        Err(ConfigError::Managed {
            setting: Setting::AccountApi,
            ..
        })
    ));
}
