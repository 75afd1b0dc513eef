//! Each command: one call into the client core, then printing.

use std::io::{BufRead, Write};
use std::sync::Arc;

use serde_json::json;
use tessera_client::config::{Layer, Sources};
use tessera_client::{Client, ClientError, Config, Lang, LoginProgress, qr};

use crate::args::{
    BrowsersCommand, Cli, Command, ConfigAction, DevicesCommand, HelpdeskCommand, RecoveryCommand,
};
use crate::output;

type Outcome = Result<(), (ClientError, Lang)>;

pub async fn run(cli: Cli) -> Outcome {
    let s = cli.settings;
    let flags = Layer {
        issuer: s.issuer,
        client_id: s.client_id,
        account_api: s.account_api,
        accepted_acr: s.accepted_acr,
        language: s.language,
        login_timeout_secs: s.login_timeout_secs,
    };
    let system_lang = Lang::from_system();
    let sources = Sources::platform(flags).map_err(|e| (ClientError::from(e), system_lang))?;
    if let Command::Config {
        action: Some(action),
    } = &cli.command
    {
        return change_setting(&sources, action, cli.json).map_err(|e| (e, system_lang));
    }
    let config = Config::load(&sources).map_err(|e| (ClientError::from(e), system_lang))?;
    let lang = config.lang();
    for (setting, origin) in &config.ignored {
        eprintln!(
            "tessera: {} `{}` ({origin})",
            lang.pick(
                "ignoring the managed setting",
                "réglage géré, valeur ignorée :"
            ),
            setting.key()
        );
    }
    if let Command::Config { .. } = cli.command {
        show_config(&config, cli.json);
        return Ok(());
    }
    let client = Arc::new(Client::with_keyring(config).map_err(|e| (e, lang))?);
    let json = cli.json;
    progress_on_stderr(&client, lang);
    cancel_on_ctrl_c(client.clone());
    command(&client, cli.command, json, lang)
        .await
        .map_err(|e| (e, lang))
}

fn progress_on_stderr(client: &Client, lang: Lang) {
    client.on_progress(move |p| match p {
        LoginProgress::Discovering { issuer } => {
            eprintln!("{} {issuer}…", lang.pick("Contacting", "Connexion à"))
        }
        LoginProgress::WaitingForBrowser { url } => eprintln!(
            "{}\n  {url}\n{}",
            lang.pick(
                "Sign in in your web browser. If it did not open, visit:",
                "Connectez-vous dans votre navigateur. S'il ne s'est pas ouvert, allez à :"
            ),
            lang.pick(
                "Waiting for the browser (Ctrl-C to cancel)…",
                "En attente du navigateur (Ctrl-C pour annuler)…"
            )
        ),
        LoginProgress::BrowserNotOpened { reason, .. } => eprintln!(
            "{} ({reason})",
            lang.pick(
                "Could not open the browser; open the address above yourself",
                "Impossible d'ouvrir le navigateur ; ouvrez vous-même l'adresse ci-dessus"
            )
        ),
        LoginProgress::Exchanging => eprintln!(
            "{}",
            lang.pick("Checking the sign-in…", "Vérification de la connexion…")
        ),
        LoginProgress::Done { subject, acr } => {
            eprintln!(
                "{} {subject} ({acr})",
                lang.pick("Signed in as", "Connecté en tant que")
            )
        }
    });
}

/// Ctrl-C cancels a sign-in under way (it ends with `cancelled`, nothing
/// stored); otherwise, or on a second Ctrl-C, it leaves at once.
fn cancel_on_ctrl_c(client: Arc<Client>) {
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_err() {
            return;
        }
        if client.login_in_progress() {
            client.cancel_login();
            let _ = tokio::signal::ctrl_c().await;
        }
        std::process::exit(130);
    });
}

async fn command(
    client: &Client,
    command: Command,
    json: bool,
    lang: Lang,
) -> Result<(), ClientError> {
    match command {
        Command::Config { .. } => unreachable!("handled before a client exists"),
        Command::Login => {
            let info = client.login().await?;
            if json {
                output::json(&info);
            }
        }
        Command::Logout => {
            let report = client.logout().await?;
            if json {
                output::json(&report);
            } else if !report.was_signed_in {
                println!(
                    "{}",
                    lang.pick("You were not signed in.", "Vous n'étiez pas connecté.")
                );
            } else {
                println!("{}", lang.pick("Signed out.", "Déconnecté."));
                for w in &report.warnings {
                    eprintln!("tessera: {w}");
                }
            }
        }
        Command::Whoami => {
            let me = client.me().await?;
            if json {
                output::json(&me);
            } else {
                println!("{} ({})", me.uid, me.name);
                if let Some(e) = &me.email {
                    println!("  {e}");
                }
                if !me.roles.is_empty() {
                    println!(
                        "  {} {}",
                        lang.pick("roles:", "rôles :"),
                        me.roles.join(", ")
                    );
                }
                println!(
                    "  {} {} ({})",
                    lang.pick("sign-in level:", "niveau de connexion :"),
                    me.acr,
                    output::when(me.auth_time)
                );
                println!(
                    "  {} {}, {} {}, {} {}",
                    lang.pick("authenticator apps:", "applications d'authentification :"),
                    me.device_count,
                    lang.pick("recovery codes left:", "codes de secours restants :"),
                    me.recovery_codes_left,
                    lang.pick("trusted browsers:", "navigateurs de confiance :"),
                    me.trusted_browser_count
                );
            }
        }
        Command::Devices(DevicesCommand::List) => {
            let list = client.devices().await?;
            if json {
                output::json(&list)
            } else {
                output::devices(&list, lang)
            }
        }
        Command::Devices(DevicesCommand::Add { name, invert_qr }) => {
            add_device(client, &name, invert_qr, json, lang).await?
        }
        Command::Devices(DevicesCommand::Rename { id, name }) => {
            let d = client.rename_device(&id, &name).await?;
            if json {
                output::json(&d)
            } else {
                output::devices(&[d], lang)
            }
        }
        Command::Devices(DevicesCommand::Remove { id }) => {
            client.remove_device(&id).await?;
            done(json, lang, json!({ "removed": 1 }));
        }
        Command::Browsers(BrowsersCommand::List) => {
            let list = client.trusted_browsers().await?;
            if json {
                output::json(&list)
            } else {
                output::browsers(&list, lang)
            }
        }
        Command::Browsers(BrowsersCommand::Revoke { id }) => {
            client.revoke_browser(&id).await?;
            done(json, lang, json!({ "removed": 1 }));
        }
        Command::Browsers(BrowsersCommand::RevokeAll) => {
            let r = client.revoke_all_browsers().await?;
            removed(json, lang, r.removed);
        }
        Command::RecoveryCodes(RecoveryCommand::Regenerate) => {
            let codes = client.regenerate_recovery_codes().await?;
            if json {
                output::json(&codes)
            } else {
                output::recovery_codes(&codes.codes, lang)
            }
        }
        Command::Activity(page) => {
            let p = client.activity(page.cursor.as_deref(), page.limit).await?;
            if json {
                output::json(&p)
            } else {
                output::activity(&p, lang)
            }
        }
        Command::Helpdesk(h) => helpdesk(client, h, json, lang).await?,
    }
    Ok(())
}

async fn helpdesk(
    client: &Client,
    command: HelpdeskCommand,
    json: bool,
    lang: Lang,
) -> Result<(), ClientError> {
    match command {
        HelpdeskCommand::Search { query, limit } => {
            let r = client.search_users(&query, limit).await?;
            if json {
                output::json(&r);
            } else {
                if r.users.is_empty() {
                    println!(
                        "{}",
                        lang.pick("No user found.", "Aucun utilisateur trouvé.")
                    );
                }
                for u in &r.users {
                    println!(
                        "{}  {}  {}  {} {}",
                        u.uid,
                        u.name,
                        u.email.as_deref().unwrap_or("-"),
                        lang.pick("apps:", "applications :"),
                        u.device_count
                    );
                }
                if r.truncated {
                    println!(
                        "{}",
                        lang.pick(
                            "(more users match: refine the search)",
                            "(d'autres utilisateurs correspondent : précisez la recherche)"
                        )
                    );
                }
            }
        }
        HelpdeskCommand::Devices { uid } => {
            let list = client.user_devices(&uid).await?;
            if json {
                output::json(&list)
            } else {
                output::devices(&list, lang)
            }
        }
        HelpdeskCommand::RemoveDevice { uid, id, reason } => {
            client.remove_user_device(&uid, &id, &reason.reason).await?;
            done(json, lang, json!({ "removed": 1 }));
        }
        HelpdeskCommand::Reset { uid, reason } => {
            let r = client.reset_user_devices(&uid, &reason.reason).await?;
            removed(json, lang, r.removed);
        }
        HelpdeskCommand::Browsers { uid } => {
            let list = client.user_browsers(&uid).await?;
            if json {
                output::json(&list)
            } else {
                output::browsers(&list, lang)
            }
        }
        HelpdeskCommand::Revoke {
            uid,
            id,
            all,
            reason,
        } => {
            if all {
                let r = client.revoke_user_browsers(&uid, &reason.reason).await?;
                removed(json, lang, r.removed);
            } else {
                let id = id.expect("clap requires an id without --all");
                client
                    .revoke_user_browser(&uid, &id, &reason.reason)
                    .await?;
                done(json, lang, json!({ "removed": 1 }));
            }
        }
        HelpdeskCommand::Activity { uid, page } => {
            let p = client
                .user_activity(&uid, page.cursor.as_deref(), page.limit)
                .await?;
            if json {
                output::json(&p)
            } else {
                output::activity(&p, lang)
            }
        }
    }
    Ok(())
}

fn done(json: bool, lang: Lang, value: serde_json::Value) {
    if json {
        output::json(&value);
    } else {
        println!("{}", lang.pick("Done.", "C'est fait."));
    }
}

fn removed(json: bool, lang: Lang, n: u32) {
    if json {
        output::json(&json!({ "removed": n }));
    } else {
        println!("{} {n}", lang.pick("Removed:", "Supprimés :"));
    }
}

/// Enrolment: QR and secret, then the code typed by the user (read from
/// stdin, so scripts can pipe it), then the recovery codes, once.
async fn add_device(
    client: &Client,
    name: &str,
    invert: bool,
    json: bool,
    lang: Lang,
) -> Result<(), ClientError> {
    let started = client.start_enrollment(name).await?;
    if json {
        output::json(&started);
    } else {
        print!("{}", qr::terminal(started.otpauth_uri.expose(), invert)?);
        println!(
            "{}\n  {}\n{} {}",
            lang.pick(
                "Scan this code with your authenticator app, or type this key:",
                "Scannez ce code avec votre application d'authentification, ou saisissez cette clé :"
            ),
            qr::group_secret(started.secret.expose()),
            lang.pick("Valid until", "Valable jusqu'à"),
            output::when(started.expires_at)
        );
        eprint!(
            "{} ",
            lang.pick("Code shown by the app:", "Code affiché par l'application :")
        );
        let _ = std::io::stderr().flush();
    }
    let code = read_line().await?;
    let confirmed = client
        .confirm_enrollment(&started.enrollment_id, &code)
        .await?;
    if json {
        output::json(&confirmed);
    } else {
        println!(
            "{} {} ({})",
            lang.pick("Added:", "Ajoutée :"),
            confirmed.device.name,
            confirmed.device.id
        );
        if let Some(codes) = &confirmed.recovery_codes {
            output::recovery_codes(codes, lang);
        }
    }
    Ok(())
}

async fn read_line() -> Result<String, ClientError> {
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })
    .await
    .map_err(|e| ClientError::Internal(e.to_string()))?
    .map_err(|e| ClientError::InvalidInput {
        field: "code",
        reason: e.to_string(),
    })
}

fn show_config(config: &Config, json: bool) {
    use tessera_client::Setting;
    let value = |s: Setting| -> String {
        match s {
            Setting::Issuer => config.issuer.as_str().to_owned(),
            Setting::ClientId => config.client_id.clone(),
            Setting::AccountApi => config.account_api.to_string(),
            Setting::AcceptedAcr => config.accepted_acr.join(","),
            Setting::Language => config
                .language_setting
                .map(|l| l.as_str())
                .unwrap_or("auto")
                .to_owned(),
            Setting::LoginTimeoutSecs => config.login_timeout.as_secs().to_string(),
        }
    };
    if json {
        let settings: Vec<_> = Setting::ALL
            .iter()
            .map(|&s| {
                json!({
                    "setting": s.key(),
                    "value": value(s),
                    "origin": config.origins.get(&s).map(ToString::to_string),
                    "managed": config.is_managed(s),
                })
            })
            .collect();
        output::json(&json!({ "settings": settings }));
        return;
    }
    for s in Setting::ALL {
        let managed = if config.is_managed(s) {
            " [managed]"
        } else {
            ""
        };
        let origin = config
            .origins
            .get(&s)
            .map(ToString::to_string)
            .unwrap_or_default();
        println!(
            "{:<20} {}{managed}\n{:<20} ({origin})",
            s.key(),
            value(s),
            ""
        );
    }
}

/// `tessera config set|unset`: works before any issuer is configured.
fn change_setting(sources: &Sources, action: &ConfigAction, json: bool) -> Result<(), ClientError> {
    use tessera_client::Setting;
    let (key, value) = match action {
        ConfigAction::Set { key, value } => (key, Some(value.as_str())),
        ConfigAction::Unset { key } => (key, None),
    };
    let setting = Setting::ALL
        .into_iter()
        .find(|s| s.key() == key)
        .ok_or_else(|| ClientError::InvalidInput {
            field: "setting",
            reason: format!(
                "unknown setting `{key}` (one of {})",
                Setting::ALL.map(|s| s.key()).join(", ")
            ),
        })?;
    sources.set_user_setting(setting, value)?;
    let file = sources
        .user_file
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if json {
        output::json(&json!({ "setting": setting.key(), "value": value, "file": file }));
    } else {
        println!("{} → {file}", setting.key());
    }
    Ok(())
}
