//! Fuzzes the API key parser (`dashtray_core::auth::key::parse`): no input may panic it,
//! and whatever it accepts must be a well-formed `dk_` key whose public id it returns.
#![no_main]

use dashtray_core::auth::key;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(public_id) = key::parse(text) {
        assert_eq!(
            text.len(),
            key::PREFIX.len() + key::PUBLIC_ID_LEN + 1 + key::SECRET_LEN + key::CHECKSUM_LEN
        );
        assert!(text.starts_with(key::PREFIX));
        assert_eq!(public_id, &text[3..3 + key::PUBLIC_ID_LEN]);
        assert!(public_id.bytes().all(|b| b.is_ascii_alphanumeric()));
    }
    // What a Bearer header would carry once trimmed.
    let _ = key::parse(text.trim());
});
