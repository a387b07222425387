//! Token secrets and their hashes.
//!
//! A token is 32 random bytes (256 bits), base64url-encoded behind a prefix that tells what
//! it is: `wwd_` for a device token, `wwa_` for an API token. The store keeps only a keyed
//! BLAKE3 hash of the token. The key is a fixed domain key (BLAKE3's `derive_key` mode with
//! one context string per kind of token), not a per-install secret: with 256-bit random
//! tokens a leaked hash cannot be reversed or brute-forced, so a secret key would add
//! nothing but a file to lose; the domain keys keep device and API hashes apart, and the
//! same database works on every node of a cluster. (Human passwords would need argon2;
//! these are not passwords.)

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use wanwu_store::TokenHash;

/// Prefix of device tokens.
pub const DEVICE_TOKEN_PREFIX: &str = "wwd_";
/// Prefix of API tokens.
pub const API_TOKEN_PREFIX: &str = "wwa_";
/// Random bytes in a token.
pub const TOKEN_BYTES: usize = 32;
/// Longest token accepted for hashing; longer input is refused without work.
pub const MAX_TOKEN_LEN: usize = 512;

const DEVICE_CONTEXT: &str = "wanwu 2026-01 device token hash";
const API_CONTEXT: &str = "wanwu 2026-01 api token hash";

/// What a token is for; each kind hashes under its own domain key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A device's MQTT/HTTP credential.
    Device,
    /// An application's API credential.
    Api,
}

impl TokenKind {
    fn prefix(self) -> &'static str {
        match self {
            TokenKind::Device => DEVICE_TOKEN_PREFIX,
            TokenKind::Api => API_TOKEN_PREFIX,
        }
    }

    fn context(self) -> &'static str {
        match self {
            TokenKind::Device => DEVICE_CONTEXT,
            TokenKind::Api => API_CONTEXT,
        }
    }
}

/// A fresh random token of `kind`.
pub fn generate(kind: TokenKind) -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    format!("{}{}", kind.prefix(), URL_SAFE_NO_PAD.encode(bytes))
}

/// The keyed hash of `token` under `kind`'s domain key.
pub fn hash(kind: TokenKind, token: &str) -> TokenHash {
    blake3::derive_key(kind.context(), token.as_bytes())
}

/// Compares two hashes in constant time.
pub fn hashes_equal(a: &TokenHash, b: &TokenHash) -> bool {
    blake3::Hash::from_bytes(*a) == blake3::Hash::from_bytes(*b)
}

/// A random id with a readable prefix, e.g. `tok-3f9a0c1b2d4e5f60`.
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}-{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_prefixed_random_and_hash_per_kind() {
        let a = generate(TokenKind::Device);
        let b = generate(TokenKind::Device);
        assert!(a.starts_with("wwd_") && a.len() == 4 + 43);
        assert_ne!(a, b);
        assert!(generate(TokenKind::Api).starts_with("wwa_"));
        assert_ne!(hash(TokenKind::Device, &a), hash(TokenKind::Api, &a));
        assert!(hashes_equal(
            &hash(TokenKind::Device, &a),
            &hash(TokenKind::Device, &a)
        ));
        assert!(!hashes_equal(
            &hash(TokenKind::Device, &a),
            &hash(TokenKind::Device, &b)
        ));
    }

    #[test]
    fn random_ids_are_valid_ids() {
        let id = random_id("dev");
        assert_eq!(wanwu_model::id::id_problem(&id), None);
        assert_eq!(id.len(), 20);
    }
}
