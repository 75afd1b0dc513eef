//! Form bodies and query strings (`web::Params`): any bytes are either
//! refused with a reason or parsed; a parsed name answers `get` consistently.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_provider::web::Params;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = Params::parse(data) {
        for name in [
            "client_id",
            "redirect_uri",
            "code",
            "grant_type",
            "tx",
            "csrf",
            "",
        ] {
            let first = params.get(name).map(str::to_owned);
            assert_eq!(params.get(name).map(str::to_owned), first);
        }
    }
});
