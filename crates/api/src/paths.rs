//! Route paths of the account API.
//!
//! The templates (with `{id}`/`{uid}` placeholders, axum 0.8 syntax) are what
//! the provider mounts; the functions build concrete paths for a client,
//! percent-encoding each path segment. All paths are absolute from the
//! server root and start with [`PREFIX`]; a client configured with an account
//! API base URL (by default `<issuer>/api`) appends [`relative`] of them.

/// Common prefix of every account API route.
pub const PREFIX: &str = "/api";

pub const ME: &str = "/api/v1/me";
pub const MY_DEVICES: &str = "/api/v1/me/devices";
pub const MY_DEVICE: &str = "/api/v1/me/devices/{id}";
pub const MY_ENROLLMENT_CONFIRM: &str = "/api/v1/me/devices/enrollments/{id}/confirm";
pub const MY_TRUSTED_BROWSERS: &str = "/api/v1/me/trusted-browsers";
pub const MY_TRUSTED_BROWSER: &str = "/api/v1/me/trusted-browsers/{id}";
pub const MY_RECOVERY_CODES: &str = "/api/v1/me/recovery-codes";
pub const MY_ACTIVITY: &str = "/api/v1/me/activity";

pub const USERS: &str = "/api/v1/users";
pub const USER_DEVICES: &str = "/api/v1/users/{uid}/devices";
pub const USER_DEVICE: &str = "/api/v1/users/{uid}/devices/{id}";
pub const USER_TRUSTED_BROWSERS: &str = "/api/v1/users/{uid}/trusted-browsers";
pub const USER_TRUSTED_BROWSER: &str = "/api/v1/users/{uid}/trusted-browsers/{id}";
pub const USER_ACTIVITY: &str = "/api/v1/users/{uid}/activity";

/// Where the provider serves the OpenAPI document of this API.
pub const OPENAPI: &str = "/api/openapi.json";

/// Every route template, for tests and documentation that must cover them all.
pub const ALL: &[&str] = &[
    ME,
    MY_DEVICES,
    MY_DEVICE,
    MY_ENROLLMENT_CONFIRM,
    MY_TRUSTED_BROWSERS,
    MY_TRUSTED_BROWSER,
    MY_RECOVERY_CODES,
    MY_ACTIVITY,
    USERS,
    USER_DEVICES,
    USER_DEVICE,
    USER_TRUSTED_BROWSERS,
    USER_TRUSTED_BROWSER,
    USER_ACTIVITY,
];

/// The part of `path` after [`PREFIX`], to append to a configured base URL.
pub fn relative(path: &str) -> &str {
    path.strip_prefix(PREFIX).unwrap_or(path)
}

/// Fills `{name}` placeholders of `template` with percent-encoded values.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut out = template.to_owned();
    for (name, value) in values {
        out = out.replace(&format!("{{{name}}}"), &encode_segment(value));
    }
    out
}

pub fn my_device(id: &str) -> String {
    fill(MY_DEVICE, &[("id", id)])
}
pub fn my_enrollment_confirm(id: &str) -> String {
    fill(MY_ENROLLMENT_CONFIRM, &[("id", id)])
}
pub fn my_trusted_browser(id: &str) -> String {
    fill(MY_TRUSTED_BROWSER, &[("id", id)])
}
pub fn user_devices(uid: &str) -> String {
    fill(USER_DEVICES, &[("uid", uid)])
}
pub fn user_device(uid: &str, id: &str) -> String {
    fill(USER_DEVICE, &[("uid", uid), ("id", id)])
}
pub fn user_trusted_browsers(uid: &str) -> String {
    fill(USER_TRUSTED_BROWSERS, &[("uid", uid)])
}
pub fn user_trusted_browser(uid: &str, id: &str) -> String {
    fill(USER_TRUSTED_BROWSER, &[("uid", uid), ("id", id)])
}
pub fn user_activity(uid: &str) -> String {
    fill(USER_ACTIVITY, &[("uid", uid)])
}

/// Percent-encodes everything but RFC 3986 unreserved characters, so that a
/// value can never add a path segment (`/`), a query (`?`) or a placeholder.
fn encode_segment(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    // "." and ".." are unreserved but would be normalised away as dot segments.
    match out.as_str() {
        "." => "%2E".to_owned(),
        ".." => "%2E%2E".to_owned(),
        _ => out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_starts_with_the_prefix_and_version() {
        for p in ALL {
            assert!(p.starts_with("/api/v1/"), "{p}");
            assert!(relative(p).starts_with("/v1/"), "{p}");
        }
    }

    #[test]
    fn concrete_paths_fill_placeholders() {
        assert_eq!(my_device("d1"), "/api/v1/me/devices/d1");
        assert_eq!(
            my_enrollment_confirm("e-9"),
            "/api/v1/me/devices/enrollments/e-9/confirm"
        );
        assert_eq!(user_device("alice", "d1"), "/api/v1/users/alice/devices/d1");
        assert_eq!(user_activity("bob"), "/api/v1/users/bob/activity");
        assert_eq!(
            relative(&user_trusted_browsers("bob")),
            "/v1/users/bob/trusted-browsers"
        );
    }

    #[test]
    fn segments_cannot_escape_their_place() {
        assert_eq!(my_device("../users"), "/api/v1/me/devices/..%2Fusers");
        assert_eq!(my_device(".."), "/api/v1/me/devices/%2E%2E");
        assert_eq!(
            user_devices("a b?c#d"),
            "/api/v1/users/a%20b%3Fc%23d/devices"
        );
        assert_eq!(user_device("{id}", "x"), "/api/v1/users/%7Bid%7D/devices/x");
        assert_eq!(my_device("é"), "/api/v1/me/devices/%C3%A9");
    }
}
