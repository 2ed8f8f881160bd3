//! Secrets upkeep must read back later (the signing secrets of outgoing webhook subscriptions) are
//! sealed before they reach the database: AES-256-GCM under the `secret_key` configuration value,
//! with a fresh random nonce per value. A stolen database dump then holds no usable secret.
//! The caller passes the key ([`SecretBox::new`]); this module knows nothing of the configuration.
//!
//! Stored forms:
//! - `sealed:v1:<base64(nonce ‖ ciphertext ‖ tag)>` — sealed with the configured key;
//! - `plain:<secret>` — written while no `secret_key` is configured (the zero-set-up default; the
//!   service logs a warning at start);
//! - anything else — a value written before sealing existed, read as it is.
//!
//! Opening a sealed value without the key, or with another key, is an error that names the cause;
//! it never yields a wrong secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use upkeep_resolvers::http::Secret;

const SEALED: &str = "sealed:v1:";
const PLAIN: &str = "plain:";
/// Binds a sealed value to what it is for: a ciphertext cannot be replayed as another kind of
/// secret sealed under the same key.
const PURPOSE: &[u8] = b"upkeep webhook subscription secret";

/// Why a secret could not be sealed or opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("the secret is sealed, but no `secret_key` is configured (UPKEEP_SECRET_KEY)")]
    NoKey,
    #[error(
        "the secret does not open with the configured `secret_key` (another key sealed it, or it was altered)"
    )]
    WrongKeyOrAltered,
    #[error("the sealed secret is malformed")]
    Malformed,
    #[error("the system's random number generator failed")]
    Random,
}

/// Seals and opens stored secrets; cheap to clone.
#[derive(Clone)]
pub struct SecretBox {
    key: Option<std::sync::Arc<LessSafeKey>>,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecretBox")
            .field("sealing", &self.is_sealing())
            .finish()
    }
}

/// Why a `secret_key` value is not a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidKey(pub String);

/// Parse a `secret_key` value: 32 bytes as 64 hexadecimal characters, or as standard base64.
pub fn parse_key(text: &str) -> Result<[u8; 32], InvalidKey> {
    let text = text.trim();
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(text).map_err(|e| InvalidKey(e.to_string()))?
    } else {
        STANDARD
            .decode(text)
            .map_err(|_| InvalidKey("must be 32 bytes as 64 hex characters or base64".to_owned()))?
    };
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| {
        InvalidKey(format!(
            "must be 32 bytes (64 hex characters or base64); this is {} bytes",
            bytes.len()
        ))
    })
}

impl SecretBox {
    /// A box that seals with `key` (32 bytes), or only reads and writes the plain forms without.
    pub fn new(key: Option<&[u8; 32]>) -> SecretBox {
        SecretBox {
            key: key.map(|bytes| {
                // 32 bytes are exactly what AES-256-GCM takes, so this cannot fail.
                let unbound = UnboundKey::new(&AES_256_GCM, bytes)
                    .unwrap_or_else(|_| unreachable!("AES-256-GCM takes a 32-byte key"));
                std::sync::Arc::new(LessSafeKey::new(unbound))
            }),
        }
    }

    /// Does this box seal (is a key configured)?
    pub fn is_sealing(&self) -> bool {
        self.key.is_some()
    }

    /// The stored form of `secret`.
    pub fn seal(&self, secret: &Secret) -> Result<String, SealError> {
        let Some(key) = &self.key else {
            return Ok(format!("{PLAIN}{}", secret.expose()));
        };
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new()
            .fill(&mut nonce)
            .map_err(|_| SealError::Random)?;
        let mut in_out = secret.expose().as_bytes().to_vec();
        key.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(PURPOSE),
            &mut in_out,
        )
        .map_err(|_| SealError::Random)?;
        let mut sealed = nonce.to_vec();
        sealed.extend_from_slice(&in_out);
        Ok(format!("{SEALED}{}", STANDARD.encode(sealed)))
    }

    /// The secret of a stored form (see the module notes).
    pub fn open(&self, stored: &str) -> Result<Secret, SealError> {
        if let Some(plain) = stored.strip_prefix(PLAIN) {
            return Ok(Secret::new(plain));
        }
        let Some(encoded) = stored.strip_prefix(SEALED) else {
            return Ok(Secret::new(stored));
        };
        let key = self.key.as_ref().ok_or(SealError::NoKey)?;
        let mut bytes = STANDARD.decode(encoded).map_err(|_| SealError::Malformed)?;
        if bytes.len() < NONCE_LEN {
            return Err(SealError::Malformed);
        }
        let mut ciphertext = bytes.split_off(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&bytes).map_err(|_| SealError::Malformed)?;
        let plain = key
            .open_in_place(nonce, Aad::from(PURPOSE), &mut ciphertext)
            .map_err(|_| SealError::WrongKeyOrAltered)?;
        String::from_utf8(plain.to_vec())
            .map(Secret::new)
            .map_err(|_| SealError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn sealed_secrets_open_with_their_key_only() {
        let sealing = SecretBox::new(Some(&KEY));
        let secret = Secret::new("a webhook secret of some length");
        let stored = sealing.seal(&secret).expect("sealed");
        assert!(stored.starts_with("sealed:v1:"), "{stored}");
        assert!(!stored.contains("webhook"));
        assert_eq!(sealing.open(&stored).expect("opens"), secret);
        // A fresh nonce each time.
        assert_ne!(sealing.seal(&secret).expect("sealed"), stored);

        assert_eq!(
            SecretBox::new(Some(&[8; 32])).open(&stored),
            Err(SealError::WrongKeyOrAltered)
        );
        assert_eq!(SecretBox::new(None).open(&stored), Err(SealError::NoKey));
        let mut altered = stored.clone();
        altered.pop();
        altered.push(if stored.ends_with('A') { 'B' } else { 'A' });
        assert!(sealing.open(&altered).is_err());
        assert_eq!(sealing.open("sealed:v1:!!"), Err(SealError::Malformed));
        assert_eq!(sealing.open("sealed:v1:AAAA"), Err(SealError::Malformed));
    }

    #[test]
    fn without_a_key_values_are_marked_plain_and_old_rows_still_read() {
        let plain = SecretBox::new(None);
        let secret = Secret::new("sealed:v1:looks-sealed-but-is-not");
        let stored = plain.seal(&secret).expect("stored");
        assert_eq!(stored, "plain:sealed:v1:looks-sealed-but-is-not");
        assert_eq!(plain.open(&stored).expect("opens"), secret);
        // A key configured later still reads what was stored before.
        assert_eq!(
            SecretBox::new(Some(&KEY)).open(&stored).expect("opens"),
            secret
        );
        assert_eq!(
            plain.open("written-before-sealing").expect("opens"),
            Secret::new("written-before-sealing")
        );
    }

    #[test]
    fn keys_parse_from_hex_or_base64() {
        let hex_key = "07".repeat(32);
        assert_eq!(parse_key(&hex_key), Ok(KEY));
        assert_eq!(parse_key(&STANDARD.encode(KEY)), Ok(KEY));
        assert!(parse_key("abc").is_err());
        assert!(
            parse_key(&STANDARD.encode([7u8; 16]))
                .unwrap_err()
                .0
                .contains("16 bytes")
        );
    }
}
