//! The command-line grammar.

use clap::{Args, Parser, Subcommand};

pub const EXIT_CODES: &str = "\
Exit status:
  0  success
  1  other error (invalid input, configuration, keyring, cancelled…)
  2  usage error
  3  authentication failed, or not signed in / session ended
  4  refused: the sign-in has no accepted second factor (acr), or the
     provider offers none
  5  not found
  6  server or network error

Configuration: the file <config dir>/tessera/config.toml (or $TESSERA_CONFIG),
then TESSERA_ISSUER, TESSERA_CLIENT_ID, TESSERA_ACCOUNT_API,
TESSERA_ACCEPTED_ACR, TESSERA_LANGUAGE, TESSERA_LOGIN_TIMEOUT_SECS, then the
options below. The organisation's managed file (/etc/tessera/config.toml on
Linux) fixes issuer, client id, account API and accepted acr for good.
The browser is opened with $BROWSER when set.";

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "Manage your organisation account's second factor",
    after_help = EXIT_CODES
)]
pub struct Cli {
    /// Machine-readable JSON output on stdout (errors as JSON on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    #[command(flatten)]
    pub settings: SettingFlags,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct SettingFlags {
    /// OpenID Connect issuer URL (https, or http on loopback).
    #[arg(long, global = true, value_name = "URL")]
    pub issuer: Option<String>,
    /// OAuth client id (default tessera-desktop).
    #[arg(long, global = true, value_name = "ID")]
    pub client_id: Option<String>,
    /// Account API base URL (default <issuer>/api).
    #[arg(long, global = true, value_name = "URL")]
    pub account_api: Option<String>,
    /// Accepted acr values, comma-separated.
    #[arg(long, global = true, value_name = "LIST", value_delimiter = ',')]
    pub accepted_acr: Option<Vec<String>>,
    /// Language of messages: fr, en or auto.
    #[arg(long, global = true, value_name = "LANG")]
    pub language: Option<String>,
    /// Seconds to wait for the browser sign-in (default 900, the provider's
    /// sign-in lifetime).
    #[arg(long, global = true, value_name = "SECONDS")]
    pub login_timeout_secs: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Sign in through your web browser (two-factor authentication required).
    Login,
    /// Sign out: revoke the session at the provider and forget the tokens.
    Logout,
    /// Show who you are signed in as.
    Whoami,
    /// Your authenticator apps.
    #[command(subcommand)]
    Devices(DevicesCommand),
    /// Browsers you told the provider to trust.
    #[command(subcommand)]
    Browsers(BrowsersCommand),
    /// Recovery codes.
    #[command(subcommand, name = "recovery-codes")]
    RecoveryCodes(RecoveryCommand),
    /// Your security activity, newest first.
    Activity(PageArgs),
    /// Help-desk tools (role `helpdesk`).
    #[command(subcommand)]
    Helpdesk(HelpdeskCommand),
    /// Show the effective configuration and where each setting comes from,
    /// or change a setting in your own configuration file.
    Config {
        #[command(subcommand)]
        action: Option<ConfigAction>,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConfigAction {
    /// Set a setting in your file, e.g. `tessera config set issuer https://id.example.org`.
    Set { key: String, value: String },
    /// Remove a setting from your file (back to the default).
    Unset { key: String },
}

#[derive(Debug, Subcommand)]
pub enum DevicesCommand {
    /// List your authenticator apps.
    List,
    /// Add an authenticator app: shows a QR code, then asks for its code.
    Add {
        /// A name for the app, e.g. "Phone".
        name: String,
        /// Draw the QR code for a dark-on-light terminal.
        #[arg(long)]
        invert_qr: bool,
    },
    /// Rename an authenticator app.
    Rename { id: String, name: String },
    /// Remove an authenticator app (needs a recent sign-in).
    Remove { id: String },
}

#[derive(Debug, Subcommand)]
pub enum BrowsersCommand {
    List,
    /// Stop trusting one browser.
    Revoke {
        id: String,
    },
    /// Stop trusting every browser.
    RevokeAll,
}

#[derive(Debug, Subcommand)]
pub enum RecoveryCommand {
    /// Make a new set of recovery codes; the previous set stops working.
    Regenerate,
}

#[derive(Debug, Args)]
pub struct PageArgs {
    /// Continue after this cursor (printed with the previous page).
    #[arg(long)]
    pub cursor: Option<String>,
    /// Events per page.
    #[arg(long)]
    pub limit: Option<u32>,
}

#[derive(Debug, Args)]
pub struct Reason {
    /// Why (required, recorded in the user's activity).
    #[arg(long, required = true)]
    pub reason: String,
}

#[derive(Debug, Subcommand)]
pub enum HelpdeskCommand {
    /// Find users by prefix of uid, email or name.
    Search {
        query: String,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// List a user's authenticator apps.
    Devices { uid: String },
    /// Remove one of a user's authenticator apps.
    RemoveDevice {
        uid: String,
        id: String,
        #[command(flatten)]
        reason: Reason,
    },
    /// Remove all of a user's apps: they are signed out everywhere and enrol
    /// again at next sign-in.
    Reset {
        uid: String,
        #[command(flatten)]
        reason: Reason,
    },
    /// List a user's trusted browsers.
    Browsers { uid: String },
    /// Revoke one trusted browser of a user (or all with --all).
    Revoke {
        uid: String,
        #[arg(required_unless_present = "all", conflicts_with = "all")]
        id: Option<String>,
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        reason: Reason,
    },
    /// A user's security activity.
    Activity {
        uid: String,
        #[command(flatten)]
        page: PageArgs,
    },
}
