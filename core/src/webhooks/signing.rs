//! Standard Webhooks signatures: `whsec_` secrets, the `v1,<base64>` HMAC-SHA256 of
//! `{webhook-id}.{webhook-timestamp}.{body}`, and checking one as a receiver would.

use base64::{engine::general_purpose::STANDARD, Engine};
use hmac::{Hmac, Mac};
use rand::{rngs::OsRng, TryRngCore};
use sha2::Sha256;

/// What every secret starts with, as Standard Webhooks libraries expect.
pub const SECRET_PREFIX: &str = "whsec_";
/// 32 random bytes: more than the 24 the specification asks for.
const SECRET_BYTES: usize = 32;
/// How far a receiver lets `webhook-timestamp` stray from its clock (the libraries' 5 minutes).
pub const TOLERANCE_SECS: i64 = 300;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignatureError {
    #[error("the secret is not `whsec_` followed by base64")]
    Secret,
    #[error("`webhook-timestamp` is not a number of seconds")]
    Timestamp,
    #[error("`webhook-timestamp` is more than 5 minutes from now")]
    Stale,
    #[error("no signature in `webhook-signature` matches")]
    Mismatch,
}

/// A fresh endpoint secret, shown to the user once.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    OsRng
        .try_fill_bytes(&mut bytes)
        .expect("the OS random source works");
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes))
}

fn key_of(secret: &str) -> Result<Vec<u8>, SignatureError> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    STANDARD.decode(encoded).map_err(|_| SignatureError::Secret)
}

/// `v1,<base64 HMAC-SHA256>` of the message with `secret`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Result<String, SignatureError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_of(secret)?).expect("HMAC takes any key");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Ok(format!(
        "v1,{}",
        STANDARD.encode(mac.finalize().into_bytes())
    ))
}

/// The `webhook-signature` header: one signature per secret, space-separated (two
/// during a rotation's overlap).
pub fn signature_header(
    secrets: &[&str],
    id: &str,
    timestamp: i64,
    body: &[u8],
) -> Result<String, SignatureError> {
    let signatures = secrets
        .iter()
        .map(|secret| sign(secret, id, timestamp, body))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(signatures.join(" "))
}

/// Checks a delivery as a receiver does: a recent timestamp and one matching `v1`
/// signature, compared in constant time.
pub fn verify(
    secret: &str,
    id: &str,
    timestamp: &str,
    signatures: &str,
    body: &[u8],
    now_secs: i64,
) -> Result<(), SignatureError> {
    let ts: i64 = timestamp.parse().map_err(|_| SignatureError::Timestamp)?;
    if (now_secs - ts).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(&key_of(secret)?).expect("HMAC takes any key");
    mac.update(format!("{id}.{ts}.").as_bytes());
    mac.update(body);
    let matches = signatures
        .split(' ')
        .filter_map(|s| s.strip_prefix("v1,"))
        .filter_map(|s| STANDARD.decode(s).ok())
        .any(|sig| mac.clone().verify_slice(&sig).is_ok());
    match matches {
        true => Ok(()),
        false => Err(SignatureError::Mismatch),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification's reference libraries.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: i64 = 1614265330;
    const BODY: &[u8] = br#"{"test": 2432232314}"#;

    #[test]
    fn signs_as_the_reference_libraries_do() {
        assert_eq!(
            sign(SECRET, ID, TS, BODY).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn a_signature_is_accepted_only_for_its_body_secret_and_time() {
        let header = signature_header(&[&new_secret(), SECRET], ID, TS, BODY).unwrap();
        assert_eq!(header.split(' ').count(), 2, "one signature per secret");
        assert_eq!(
            verify(SECRET, ID, "1614265330", &header, BODY, TS + 10),
            Ok(())
        );
        let tampered = br#"{"test": 2432232315}"#;
        assert_eq!(
            verify(SECRET, ID, "1614265330", &header, tampered, TS),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(&new_secret(), ID, "1614265330", &header, BODY, TS),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, ID, "1614265330", &header, BODY, TS + 301),
            Err(SignatureError::Stale)
        );
    }

    #[test]
    fn secrets_carry_32_random_bytes() {
        let secret = new_secret();
        assert!(secret.starts_with("whsec_"));
        assert_eq!(key_of(&secret).unwrap().len(), 32);
        assert_ne!(secret, new_secret());
    }
}
