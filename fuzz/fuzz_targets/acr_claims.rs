//! The `claims` and `acr_values` authorization parameters
//! (`acr::AcrRequest::parse`) against the default configuration.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use tessera_provider::acr::AcrRequest;
use tessera_provider::config::Config;

fuzz_target!(|data: &[u8]| {
    static CONFIG: OnceLock<Config> = OnceLock::new();
    let config = CONFIG.get_or_init(Config::default);
    let text = String::from_utf8_lossy(data);
    let (claims, acr_values) = text.split_once('\u{0}').unwrap_or((&text, ""));
    let claims: Option<serde_json::Value> = serde_json::from_str(claims).ok();
    let acr_values = (!acr_values.is_empty()).then_some(acr_values);
    if let Ok(request) = AcrRequest::parse(claims.as_ref(), acr_values, config) {
        let needs = request.needs_mfa(config);
        // What a sign-in with a second factor emits is an offered level.
        if let Some(acr) = request.emitted(true, config) {
            assert!(config.acr_level(&acr).is_some(), "emitted unoffered {acr}");
        }
        let _ = needs;
    }
});
