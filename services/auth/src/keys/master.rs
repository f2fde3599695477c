//! The master key and the AEAD (XChaCha20-Poly1305) that seals signing keys at rest.
//!
//! Sealed format: `[version = 1][24-byte random nonce][ciphertext + 16-byte tag]`, with the
//! key id as associated data, so a sealed key copied onto another row does not open.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use rand::RngCore;
use rand::rngs::OsRng;
use std::fmt;

const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;

/// 32 secret bytes; never printed.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("sealed data has an unknown format")]
    Format,
    #[error("sealed data does not open with this master key")]
    Open,
    #[error("sealing failed")]
    Seal,
}

impl MasterKey {
    /// Base64 of exactly 32 bytes (standard or URL-safe alphabet, padded or not). The error
    /// describes the problem without repeating the value.
    pub fn parse(encoded: &str) -> Result<Self, &'static str> {
        let encoded = encoded.trim();
        let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
            .iter()
            .find_map(|engine| engine.decode(encoded).ok())
            .ok_or("is not valid base64")?;
        let key: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "must be 32 bytes encoded in base64 (e.g. `openssl rand -base64 32`)")?;
        Ok(Self(key))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&Key::from(self.0))
    }

    pub fn seal(&self, associated_data: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, SealError> {
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher()
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: plaintext,
                    aad: associated_data,
                },
            )
            .map_err(|_| SealError::Seal)?;
        let mut sealed = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        sealed.push(FORMAT_V1);
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        Ok(sealed)
    }

    pub fn open(&self, associated_data: &[u8], sealed: &[u8]) -> Result<Vec<u8>, SealError> {
        let (&version, rest) = sealed.split_first().ok_or(SealError::Format)?;
        if version != FORMAT_V1 || rest.len() < NONCE_LEN + TAG_LEN {
            return Err(SealError::Format);
        }
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = XNonce::try_from(nonce).map_err(|_| SealError::Format)?;
        self.cipher()
            .decrypt(
                &nonce,
                Payload {
                    msg: ciphertext,
                    aad: associated_data,
                },
            )
            .map_err(|_| SealError::Open)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> MasterKey {
        MasterKey([byte; 32])
    }

    #[test]
    fn parses_32_bytes_of_base64_in_either_alphabet() {
        let bytes: Vec<u8> = (0..32).collect();
        for engine in [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD] {
            let parsed = MasterKey::parse(&engine.encode(&bytes)).unwrap();
            assert_eq!(parsed.0.to_vec(), bytes);
        }
        assert!(MasterKey::parse(&STANDARD.encode([1u8; 16])).is_err());
        assert!(MasterKey::parse("not base64 at all!").is_err());
    }

    #[test]
    fn seals_and_opens_with_the_same_key_and_kid_only() {
        let sealed = key(7).seal(b"kid-1", b"seed").unwrap();
        assert_eq!(sealed.len(), 1 + NONCE_LEN + 4 + TAG_LEN);
        assert_eq!(key(7).open(b"kid-1", &sealed).unwrap(), b"seed");
        assert_eq!(key(8).open(b"kid-1", &sealed), Err(SealError::Open));
        assert_eq!(key(7).open(b"kid-2", &sealed), Err(SealError::Open));
        assert_eq!(key(7).open(b"kid-1", &sealed[..10]), Err(SealError::Format));
        // Random nonces: sealing twice gives different bytes.
        assert_ne!(sealed, key(7).seal(b"kid-1", b"seed").unwrap());
    }

    #[test]
    fn never_prints_the_key() {
        assert_eq!(format!("{:?}", key(7)), "MasterKey(***)");
    }
}
