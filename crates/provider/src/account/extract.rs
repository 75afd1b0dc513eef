//! Body, path and query extractors whose rejections are problem details
//! (axum's own answer with plain text).

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts};

use super::problem::ApiError;

/// A JSON body; a missing, malformed or mistyped body is `bad_request`.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Path parameters; a malformed segment is `bad_request`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// Query parameters; a malformed query is `bad_request`.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let detail = match &r {
            JsonRejection::MissingJsonContentType(_) => {
                "The request body must be JSON (Content-Type: application/json).".to_owned()
            }
            JsonRejection::JsonSyntaxError(_) => "The request body is not valid JSON.".to_owned(),
            JsonRejection::JsonDataError(e) => {
                format!(
                    "The request body does not have the expected fields: {}",
                    e.body_text()
                )
            }
            _ => format!("The request body cannot be read: {}", r.body_text()),
        };
        let mut e = ApiError::bad_request(detail);
        if r.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            e.status = Some(r.status());
        }
        e
    }
}

impl From<PathRejection> for ApiError {
    fn from(r: PathRejection) -> Self {
        ApiError::bad_request(format!("The address is malformed: {}", r.body_text()))
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        ApiError::bad_request(format!(
            "The query parameters are invalid: {}",
            r.body_text()
        ))
    }
}
