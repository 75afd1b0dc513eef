//! OpenID Connect protocol endpoints.

pub mod authorize;
pub mod client_auth;
pub mod discovery;
pub mod logout;
pub mod redirect;
pub mod revoke;
pub mod token;
pub mod userinfo;
