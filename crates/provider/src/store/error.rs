//! The store's error type, with stable machine codes.

use tessera_api::ErrorCode;

/// Why a store operation failed.
///
/// Lookups that find nothing return `Ok(None)` (or `Ok(false)` for deletes);
/// `NotFound` is for operations that need the record to exist (rename, touch,
/// confirm, rotate).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The record the operation needs does not exist (or has expired, or
    /// belongs to another user: ownership is part of the key).
    #[error("{what} not found")]
    NotFound { what: &'static str },
    /// A record with the same key already exists.
    #[error("{what} already exists")]
    AlreadyExists { what: &'static str },
    /// The change contradicts the stored state (for example a refresh token
    /// rotated into another family).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The account already has as many devices as allowed.
    #[error("the account already has {max} devices, the most allowed")]
    TooManyDevices { max: u32 },
    /// An already-rotated refresh token was presented again: its whole family
    /// has just been revoked.
    #[error("refresh token reused; family {family_id} revoked")]
    RefreshReuse { family_id: String },
    /// The backing store cannot be reached (Redis down, file locked); the
    /// caller should answer 503 and retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A stored value could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The input cannot be stored as given (empty key, bad TTL, ...).
    #[error("invalid input: {0}")]
    Invalid(String),
}

impl StoreError {
    /// Stable machine code, for logs and tests. Never changes for a variant.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotFound { .. } => "not_found",
            StoreError::AlreadyExists { .. } => "already_exists",
            StoreError::Conflict(_) => "conflict",
            StoreError::TooManyDevices { .. } => "too_many_devices",
            StoreError::RefreshReuse { .. } => "refresh_reuse",
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::Invalid(_) => "invalid",
        }
    }

    /// The account API code this error maps to (the HTTP status follows from it:
    /// `Unavailable` → 503).
    pub fn api_code(&self) -> ErrorCode {
        match self {
            StoreError::NotFound { .. } => ErrorCode::NotFound,
            StoreError::AlreadyExists { .. } | StoreError::Conflict(_) => ErrorCode::Conflict,
            StoreError::TooManyDevices { .. } => ErrorCode::TooManyDevices,
            StoreError::RefreshReuse { .. } => ErrorCode::Unauthorized,
            StoreError::Unavailable(_) => ErrorCode::Unavailable,
            StoreError::Invalid(_) => ErrorCode::BadRequest,
            StoreError::Corrupt(_) => ErrorCode::Internal,
        }
    }

    /// Wraps a decoding failure.
    pub fn corrupt(err: impl std::fmt::Display) -> Self {
        StoreError::Corrupt(err.to_string())
    }
}

/// Result of every store operation.
pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_and_map_to_api_codes() {
        let cases = [
            (
                StoreError::NotFound { what: "device" },
                "not_found",
                ErrorCode::NotFound,
            ),
            (
                StoreError::AlreadyExists { what: "user" },
                "already_exists",
                ErrorCode::Conflict,
            ),
            (
                StoreError::Conflict("x".into()),
                "conflict",
                ErrorCode::Conflict,
            ),
            (
                StoreError::TooManyDevices { max: 10 },
                "too_many_devices",
                ErrorCode::TooManyDevices,
            ),
            (
                StoreError::RefreshReuse {
                    family_id: "f".into(),
                },
                "refresh_reuse",
                ErrorCode::Unauthorized,
            ),
            (
                StoreError::Unavailable("down".into()),
                "unavailable",
                ErrorCode::Unavailable,
            ),
            (
                StoreError::Corrupt("bad".into()),
                "corrupt",
                ErrorCode::Internal,
            ),
            (
                StoreError::Invalid("empty".into()),
                "invalid",
                ErrorCode::BadRequest,
            ),
        ];
        for (err, code, api) in cases {
            assert_eq!(err.code(), code);
            assert_eq!(err.api_code(), api);
        }
        assert_eq!(ErrorCode::Unavailable.http_status(), 503);
    }

    #[test]
    fn messages_name_what_failed() {
        assert_eq!(
            StoreError::NotFound { what: "device" }.to_string(),
            "device not found"
        );
        assert_eq!(
            StoreError::Unavailable("connection refused".into()).to_string(),
            "store unavailable: connection refused"
        );
    }
}
