//! Fuzzes the API key parser (`dashtray_core::auth::key::parse`): no input may panic it,
//! and whatever it accepts must be a well-formed `dk_` key whose checksum is right, by a
//! CRC32 computed here rather than by the parser's own code.
#![no_main]

use dashtray_core::auth::key;
use libfuzzer_sys::fuzz_target;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// CRC-32 (IEEE, reflected, polynomial 0xEDB88320) bit by bit: slow, and independent of
/// the table-driven one the parser uses.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// The key format's checksum of `body`: its CRC32 as `CHECKSUM_LEN` base62 digits.
fn expected_checksum(body: &str) -> String {
    let mut n = u64::from(crc32(body.as_bytes()));
    let mut digits = vec![b'0'; key::CHECKSUM_LEN];
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(digits).unwrap()
}

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
        assert!(text[3..].bytes().filter(|&b| b != b'_').all(|b| b.is_ascii_alphanumeric()));
        let (body, sum) = text.split_at(text.len() - key::CHECKSUM_LEN);
        assert_eq!(sum, expected_checksum(body), "accepted a key whose checksum is wrong");
    }
    // What a Bearer header would carry once trimmed.
    let _ = key::parse(text.trim());
});
