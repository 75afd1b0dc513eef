//! The endpoints a discovery document names are held to the issuer's rule
//! (`issuer::is_secure`). The document comes over https from the issuer,
//! but it can still name a plain-http token endpoint (codes, PKCE verifiers
//! and refresh tokens in clear) or an authorization endpoint of any scheme,
//! which would be handed to the OS opener.

use url::Url;

use crate::error::ClientError;
use crate::issuer;
use crate::oidc::Metadata;

/// Refuses the first endpoint outside the rule. Runs right after discovery,
/// before any use; the key set, which discovery has already fetched, is a
/// GET carrying nothing secret, and its answer goes with the refused document.
pub(crate) fn check(meta: &Metadata) -> Result<(), ClientError> {
    let extra = meta.additional_metadata();
    let named: [(&'static str, Option<&Url>); 6] = [
        (
            "authorization_endpoint",
            Some(meta.authorization_endpoint().url()),
        ),
        ("token_endpoint", meta.token_endpoint().map(|u| u.url())),
        ("jwks_uri", Some(meta.jwks_uri().url())),
        (
            "userinfo_endpoint",
            meta.userinfo_endpoint().map(|u| u.url()),
        ),
        ("revocation_endpoint", extra.revocation_endpoint.as_ref()),
        ("end_session_endpoint", extra.end_session_endpoint.as_ref()),
    ];
    for (endpoint, url) in named {
        if let Some(url) = url
            && !issuer::is_secure(url)
        {
            return Err(ClientError::InsecureEndpoint {
                endpoint,
                url: url.to_string(),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn document(issuer: &str) -> serde_json::Value {
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "userinfo_endpoint": format!("{issuer}/userinfo"),
            "jwks_uri": format!("{issuer}/jwks"),
            "revocation_endpoint": format!("{issuer}/revoke"),
            "end_session_endpoint": format!("{issuer}/end-session"),
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
        })
    }

    fn checked(doc: serde_json::Value) -> Result<(), ClientError> {
        check(&serde_json::from_value(doc).unwrap())
    }

    #[test]
    fn https_and_loopback_http_pass() {
        assert!(checked(document("https://id.example.org")).is_ok());
        assert!(checked(document("http://127.0.0.1:8080")).is_ok());
        assert!(checked(document("http://localhost:8080")).is_ok());
    }

    #[test]
    fn each_endpoint_is_held_to_the_rule() {
        let names = [
            "authorization_endpoint",
            "token_endpoint",
            "jwks_uri",
            "userinfo_endpoint",
            "revocation_endpoint",
            "end_session_endpoint",
        ];
        for name in names {
            for bad in ["http://id.example.org/x", "javascript:alert(1)"] {
                let mut doc = document("https://id.example.org");
                doc[name] = bad.into();
                match checked(doc) {
                    Err(ClientError::InsecureEndpoint { endpoint, url }) => {
                        assert_eq!((endpoint, url.as_str()), (name, bad))
                    }
                    other => panic!("{name} = {bad}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn optional_endpoints_may_be_absent() {
        let mut doc = document("https://id.example.org");
        for name in [
            "token_endpoint",
            "userinfo_endpoint",
            "revocation_endpoint",
            "end_session_endpoint",
        ] {
            doc.as_object_mut().unwrap().remove(name);
        }
        assert!(checked(doc).is_ok());
    }
}
