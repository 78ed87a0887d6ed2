//! API keys: `dk_<public id>_<secret><checksum>`, how they are made, checked and hashed.
//!
//! The public id finds the stored row; the secret is 256 random bits; the checksum (CRC32
//! of everything before it, 6 base62 characters) lets a mistyped or truncated key be
//! refused without a database lookup, and lets secret scanners recognise real keys. Only
//! a hash of the whole key is stored: SHA-256, or HMAC-SHA256 when a pepper is set.
//! No slow KDF: the key is high-entropy and checking it is on every request's path.

use hmac::{Hmac, Mac};
use rand::{rngs::OsRng, TryRngCore};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const PREFIX: &str = "dk_";
pub const PUBLIC_ID_LEN: usize = 12;
/// 43 base62 characters carry 256 bits.
pub const SECRET_LEN: usize = 43;
pub const CHECKSUM_LEN: usize = 6;

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// A freshly made key: shown once, then only its hash exists.
pub struct NewKey {
    pub key: String,
    pub public_id: String,
}

/// `len` base62 characters from the OS's CSPRNG (rejection sampling: no modulo bias).
pub fn random_base62(len: usize) -> String {
    base62_from(&mut OsRng, len)
}

/// `len` base62 characters for a row's id (a point, an integration): unique and
/// unguessable, but no secret, so drawn from the thread's CSPRNG (seeded by the OS)
/// rather than a system call per id, which was a tenth of an import's time.
pub fn random_id(len: usize) -> String {
    base62_from(&mut rand::rng(), len)
}

/// Base62 characters of a time-ordered id that carry its millisecond: seven reach the year
/// 2081.
const TIME_CHARS: usize = 7;

/// `len` base62 characters whose first seven are the current millisecond and the rest
/// random, so ids made later sort later. Rows appended in bulk then go into their
/// primary key's index at its end (a few pages a batch) instead of all over it (a page a
/// row), which made an import rewrite its index on every commit. `len` must exceed
/// seven; nine random characters (53 bits) keep ids made in one millisecond apart.
pub fn time_ordered_id(len: usize) -> String {
    assert!(
        len > TIME_CHARS,
        "a time-ordered id needs random characters"
    );
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64);
    let mut out = base62_fixed(millis, TIME_CHARS);
    out.push_str(&random_id(len - TIME_CHARS));
    out
}

/// `n` as exactly `width` base62 digits, most significant first (so the strings sort as
/// the numbers do: the alphabet is in ASCII order), its higher digits dropped.
fn base62_fixed(n: u64, width: usize) -> String {
    let mut digits = vec![b'0'; width];
    write_base62(n, &mut digits);
    String::from_utf8(digits).expect("base62 is ASCII")
}

/// `n` as `digits.len()` base62 digits, written into `digits` (see [`base62_fixed`]).
fn write_base62(mut n: u64, digits: &mut [u8]) {
    for slot in digits.iter_mut().rev() {
        *slot = BASE62[(n % 62) as usize];
        n /= 62;
    }
}

fn base62_from(rng: &mut impl TryRngCore, len: usize) -> String {
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        rng.try_fill_bytes(&mut buf)
            .unwrap_or_else(|_| panic!("the random source is available"));
        for &b in &buf {
            // 248 = 62 * 4: bytes at or above it would favour the first characters.
            if b < 248 && out.len() < len {
                out.push(BASE62[(b % 62) as usize] as char);
            }
        }
    }
    out
}

pub fn generate() -> NewKey {
    let public_id = random_base62(PUBLIC_ID_LEN);
    let body = format!("{PREFIX}{public_id}_{}", random_base62(SECRET_LEN));
    let key = format!("{body}{}", checksum(&body));
    NewKey { key, public_id }
}

/// The public id of a well-formed key whose checksum matches; `None` otherwise.
pub fn parse(key: &str) -> Option<&str> {
    let rest = key.strip_prefix(PREFIX)?;
    if rest.len() != PUBLIC_ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN || !rest.is_ascii() {
        return None;
    }
    let (public_id, rest) = rest.split_at(PUBLIC_ID_LEN);
    let secret_and_sum = rest.strip_prefix('_')?;
    // Each part on its own: a chained iterator is checked a byte at a time, and this
    // runs on every keyed request.
    let base62 = |part: &str| part.bytes().all(|b| b.is_ascii_alphanumeric());
    if !base62(public_id) || !base62(secret_and_sum) {
        return None;
    }
    let (body, sum) = key.split_at(key.len() - CHECKSUM_LEN);
    (checksum_digits(body) == sum.as_bytes()).then_some(public_id)
}

fn checksum(body: &str) -> String {
    String::from_utf8(checksum_digits(body).to_vec()).expect("base62 is ASCII")
}

fn checksum_digits(body: &str) -> [u8; CHECKSUM_LEN] {
    let mut digits = [0; CHECKSUM_LEN];
    write_base62(crc32fast::hash(body.as_bytes()).into(), &mut digits);
    digits
}

/// Hashes whole keys for storage and lookup.
#[derive(Clone)]
pub struct KeyHasher {
    pepper: Option<Vec<u8>>,
}

impl KeyHasher {
    pub fn new(pepper: Option<&str>) -> Self {
        KeyHasher {
            pepper: pepper.map(|p| p.as_bytes().to_vec()),
        }
    }

    /// Lowercase hex of SHA-256(key), or of HMAC-SHA256(pepper, key).
    pub fn hash(&self, key: &str) -> String {
        let digest: [u8; 32] = match &self.pepper {
            Some(pepper) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(pepper).expect("HMAC takes any key");
                mac.update(key.as_bytes());
                mac.finalize().into_bytes().into()
            }
            None => Sha256::digest(key.as_bytes()).into(),
        };
        crate::hex_digits::lower(digest)
    }
}

/// Compares two hashes in time that depends only on their length.
pub fn hashes_match(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_back_to_their_public_id() {
        for _ in 0..100 {
            let new = generate();
            assert_eq!(parse(&new.key), Some(new.public_id.as_str()));
            assert!(new.key.starts_with("dk_"));
            assert_eq!(
                new.key.len(),
                3 + PUBLIC_ID_LEN + 1 + SECRET_LEN + CHECKSUM_LEN
            );
        }
    }

    #[test]
    fn time_ordered_ids_sort_in_the_order_they_were_made() {
        let mut made = Vec::new();
        for _ in 0..3 {
            made.push(time_ordered_id(16));
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let mut sorted = made.clone();
        sorted.sort();
        assert_eq!(sorted, made);
        assert!(made
            .iter()
            .all(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_alphanumeric())));
        // Made in the same millisecond, two ids still differ in their random part.
        assert_ne!(time_ordered_id(16), time_ordered_id(16));
    }

    #[test]
    fn fixed_width_base62_sorts_as_its_numbers_do() {
        let numbers = [0u64, 61, 62, 3_843, 1_793_404_800_000, 3_521_614_606_207];
        let encoded: Vec<String> = numbers.iter().map(|&n| base62_fixed(n, 7)).collect();
        assert_eq!(encoded[0], "0000000");
        assert_eq!(encoded[2], "0000010");
        assert!(
            encoded.windows(2).all(|pair| pair[0] < pair[1]),
            "{encoded:?}"
        );
    }

    #[test]
    fn any_single_character_change_is_refused_by_the_checksum() {
        let key = generate().key;
        for i in PREFIX.len()..key.len() {
            if i == PREFIX.len() + PUBLIC_ID_LEN {
                continue; // the separator
            }
            let mut bytes = key.clone().into_bytes();
            bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
            let changed = String::from_utf8(bytes).unwrap();
            assert_eq!(parse(&changed), None, "changed at {i}: {changed}");
        }
    }

    #[test]
    fn malformed_keys_are_refused() {
        let key = generate().key;
        for bad in [
            "",
            "dk_",
            &key[..key.len() - 1],
            &format!("{key}x"),
            &key.replacen("dk_", "pk_", 1),
            &key.replacen('_', "-", 2),
            "dk_ééééééééééé",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn secrets_are_uniform_base62() {
        let sample = random_base62(62 * 200);
        let distinct: std::collections::BTreeSet<char> = sample.chars().collect();
        assert_eq!(distinct.len(), 62);
    }

    #[test]
    fn hashes_depend_on_the_pepper_and_compare_exactly() {
        let key = generate().key;
        let plain = KeyHasher::new(None).hash(&key);
        let peppered = KeyHasher::new(Some("pepper")).hash(&key);
        assert_eq!(plain.len(), 64);
        assert_ne!(plain, peppered);
        assert!(hashes_match(&plain, &KeyHasher::new(None).hash(&key)));
        assert!(!hashes_match(&plain, &peppered));
        assert!(
            !plain.contains(&key[3..15]),
            "the hash does not carry the key"
        );
    }
}
