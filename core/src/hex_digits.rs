//! Lowercase hex digits of bytes: request ids, key hashes, ETags and cursors.

/// `bytes` as lowercase hex, two digits a byte.
///
/// `hex::encode` builds its `String` a `char` at a time, which cost about 40
/// instructions a digit; the key hash alone is 64 digits on every keyed request.
pub fn lower(bytes: impl AsRef<[u8]>) -> String {
    let bytes = bytes.as_ref();
    // Written in place: pushing two digits at a time checked the capacity each time.
    let mut digits = vec![0u8; bytes.len() * 2];
    for (out, &byte) in digits.chunks_exact_mut(2).zip(bytes) {
        out.copy_from_slice(&pair(byte));
    }
    String::from_utf8(digits).expect("hex digits are ASCII")
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
    }
}
