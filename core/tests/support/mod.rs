//! What the core tests share: a model of the key format, built from its documentation
//! rather than from the code under test.

use dashtray_core::auth::key;

pub const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// The documented checksum: CRC32 of everything before it, as 6 base62 digits.
pub fn model_checksum(body: &str) -> String {
    let mut n = u64::from(crc32fast::hash(body.as_bytes()));
    let mut out = [b'0'; key::CHECKSUM_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
    String::from_utf8(out.to_vec()).unwrap()
}

/// The well-formed key `dk_<public_id>_<secret><checksum>`.
pub fn key_from_parts(public_id: &str, secret: &str) -> String {
    let body = format!("{}{public_id}_{secret}", key::PREFIX);
    format!("{body}{}", model_checksum(&body))
}
