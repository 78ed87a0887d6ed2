//! Lowercase hex digits of bytes: request ids, key hashes, ETags and cursors.

/// `bytes` as lowercase hex, two digits a byte.
///
/// `hex::encode` builds its `String` a `char` at a time, which cost about 40
/// instructions a digit; the key hash alone is 64 digits on every keyed request.
pub fn lower(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    let mut digits = Vec::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        digits.extend_from_slice(&pair(byte));
    }
    String::from_utf8(digits).expect("hex digits are ASCII")
}

/// `N` bytes as `2 * N` ASCII hex digits in an array, for ids that are copied once more
/// anyway (into a header value) and need no `String` of their own.
pub fn lower_array<const N: usize, const D: usize>(bytes: [u8; N]) -> [u8; D] {
    const { assert!(D == 2 * N, "two digits a byte") };
    let mut digits = [0u8; D];
    for (i, byte) in bytes.into_iter().enumerate() {
        digits[2 * i..2 * i + 2].copy_from_slice(&pair(byte));
    }
    digits
}

fn pair(byte: u8) -> [u8; 2] {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    [
        DIGITS[usize::from(byte >> 4)],
        DIGITS[usize::from(byte & 0x0f)],
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_are_lowercase_and_match_the_hex_crate() {
        assert_eq!(lower([0x00, 0x0f, 0xab, 0xff]), "000fabff");
        assert_eq!(lower(b""), "");
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(lower(&bytes), hex::encode(&bytes));
        let digits: [u8; 8] = lower_array([0x00, 0x0f, 0xab, 0xff]);
        assert_eq!(&digits, b"000fabff");
    }
}
