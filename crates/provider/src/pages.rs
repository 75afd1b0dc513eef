//! Server-rendered pages (askama templates in `templates/`, escaped by
//! default) and their rendering helpers.

use askama::Template;
use axum::http::StatusCode;
use axum::response::Response;

use crate::i18n::{Lang, Texts};
use crate::web::html_page;

pub struct EnrolView {
    pub qr_data_uri: String,
    pub secret_grouped: String,
}

/// The stage after a first enrolment: the recovery codes, shown once.
pub struct RecoveryView {
    /// Empty when the page is shown again: the codes were in the answer to
    /// the confirming code and only their hashes are kept.
    pub codes: Vec<String>,
    /// The codes as a text file (`data:` URI), for the download link.
    pub download_uri: String,
}

impl RecoveryView {
    pub fn new(codes: Vec<String>) -> Self {
        // One code per line; codes are letters, digits and `-`, which a
        // `data:` URI carries as they are: only the line ends are encoded.
        let lines: String = codes.iter().map(|c| format!("{c}%0A")).collect();
        let download_uri = format!("data:text/plain;charset=utf-8,{lines}");
        RecoveryView {
            codes,
            download_uri,
        }
    }
}

#[derive(Template)]
#[template(path = "signin.html")]
pub struct SignInPage<'a> {
    pub lang: &'static str,
    pub t: &'static Texts,
    pub client_name: &'a str,
    pub tx: &'a str,
    pub csrf: &'a str,
    pub stage_password: bool,
    pub username: &'a str,
    pub enrol: Option<EnrolView>,
    pub recovery: Option<RecoveryView>,
    pub error: Option<String>,
}

pub struct LogoutForm {
    pub csrf: String,
    pub post_logout_redirect_uri: Option<String>,
    pub client_id: Option<String>,
    pub state: Option<String>,
    pub button: &'static str,
}

#[derive(Template)]
#[template(path = "message.html")]
pub struct MessagePage<'a> {
    pub lang: &'static str,
    pub title: &'a str,
    pub message: &'a str,
    pub is_error: bool,
    pub logout_form: Option<LogoutForm>,
}

pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(body) => html_page(status, body),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            html_page(StatusCode::INTERNAL_SERVER_ERROR, "Internal error".into())
        }
    }
}

/// An error page in the user's language.
pub fn error_page(lang: Lang, status: StatusCode, message: &str) -> Response {
    render(
        status,
        &MessagePage {
            lang: lang.code(),
            title: lang.texts().error_title,
            message,
            is_error: true,
            logout_form: None,
        },
    )
}

pub const STYLE_CSS: &str = include_str!("../templates/style.css");
