//! The account API's JSON request bodies, decoded as the handlers decode
//! them (serde_json, then the shared validation rules): the first byte picks
//! the body type. A decoded body's validation is idempotent and its output
//! respects the documented limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tessera_api::devices::DEVICE_NAME_MAX_CHARS;
use tessera_api::helpdesk::REASON_MAX_CHARS;
use tessera_api::{
    DeviceRename, EnrollmentConfirm, EnrollmentStart, HelpdeskChange, SecretText,
    normalize_device_name,
};

fn check_name(raw: &str) {
    if let Ok(name) = normalize_device_name(raw) {
        assert!(!name.is_empty() && name.chars().count() <= DEVICE_NAME_MAX_CHARS);
        assert!(!name.chars().any(char::is_control));
        assert_eq!(normalize_device_name(&name).as_deref(), Ok(name.as_str()));
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    match kind % 4 {
        0 => {
            if let Ok(b) = serde_json::from_slice::<EnrollmentStart>(body) {
                check_name(&b.name);
            }
        }
        1 => {
            if let Ok(b) = serde_json::from_slice::<DeviceRename>(body) {
                check_name(&b.name);
                let again: DeviceRename =
                    serde_json::from_value(serde_json::to_value(&b).unwrap()).unwrap();
                assert_eq!(again, b);
            }
        }
        2 => {
            if let Ok(b) = serde_json::from_slice::<EnrollmentConfirm>(body) {
                // The code is secret: its Debug form does not depend on it.
                // (Not "does not contain it": a code such as "ACTED" is part
                // of the redaction marker itself, found by this target.)
                let other = EnrollmentConfirm {
                    code: SecretText::new("another"),
                };
                assert_eq!(format!("{b:?}"), format!("{other:?}"));
            }
        }
        _ => {
            if let Ok(b) = serde_json::from_slice::<HelpdeskChange>(body)
                && let Ok(valid) = b.validated()
            {
                assert!(!valid.reason.trim().is_empty());
                assert!(valid.reason.chars().count() <= REASON_MAX_CHARS);
                assert_eq!(valid.clone().validated(), Ok(valid));
            }
        }
    }
});
