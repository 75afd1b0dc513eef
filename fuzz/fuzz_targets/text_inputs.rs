//! Small text inputs: device names (`normalize_device_name`), user agents
//! (`useragent::browser_name`), redirect URI matching.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_provider::oidc::redirect::redirect_uri_matches;
use tessera_provider::useragent::browser_name;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    if let Ok(name) = tessera_api::normalize_device_name(&text) {
        // Normalising is idempotent.
        assert_eq!(
            tessera_api::normalize_device_name(&name).as_deref(),
            Ok(name.as_str())
        );
    }
    assert!(!browser_name(&text).is_empty());
    let (registered, requested) = text.split_once('\u{0}').unwrap_or((&text, &text));
    let _ = redirect_uri_matches(registered, requested);
});
