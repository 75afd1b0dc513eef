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
