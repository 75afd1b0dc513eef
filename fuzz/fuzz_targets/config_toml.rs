//! The provider's TOML configuration file: parse then validate; every input
//! is either refused with an error or yields a configuration whose issuer
//! can be computed.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use tessera_provider::config::Config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = Config::from_toml(text, Path::new("fuzz.toml"))
        && config.validate().is_ok()
    {
        let _ = config.issuer();
        let _ = config.api_audience();
    }
});
