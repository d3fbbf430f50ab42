//! API tokens: `vx_<id>_<secret>`.
//!
//! The id (16 hex digits) finds the stored record; the secret (32 random bytes, base64url) is
//! checked against its Argon2id hash. Only the hash is stored, so a copy of the index gives no
//! working token. Argon2id is slow on purpose (tens of milliseconds); the server remembers
//! tokens it has verified for a while instead of hashing on every request.

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use base64::Engine;
use sha2::{Digest, Sha256};

use crate::AuthError;

const PREFIX: &str = "vx_";
const ID_LEN: usize = 16;

/// A token as made: the text to hand out once, and what to store.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// Names the token in lists and revocations; not secret.
    pub id: String,
    /// The whole token, shown to its owner once.
    pub token: String,
    /// The Argon2id PHC string of the secret part.
    pub hash: String,
}

/// Makes a fresh random token.
pub fn generate() -> Result<NewToken, AuthError> {
    let mut id = [0u8; ID_LEN / 2];
    let mut secret = [0u8; 32];
    getrandom::fill(&mut id).map_err(|e| AuthError::Random(e.to_string()))?;
    getrandom::fill(&mut secret).map_err(|e| AuthError::Random(e.to_string()))?;
    let id = hex::encode(id);
    let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret);
    let hash = hash_secret(&secret)?;
    Ok(NewToken {
        token: format!("{PREFIX}{id}_{secret}"),
        id,
        hash,
    })
}

/// The Argon2id hash (PHC string, default parameters: 19 MiB, 2 passes) of a secret.
pub fn hash_secret(secret: &str) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(secret.as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Config(format!("cannot hash a token: {e}")))
}

/// The id and secret of a token's text, `None` when it is not shaped like one of ours.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let rest = token.strip_prefix(PREFIX)?;
    let id = rest.get(..ID_LEN)?;
    let secret = rest.get(ID_LEN..)?.strip_prefix('_')?;
    (id.bytes().all(|b| b.is_ascii_hexdigit()) && !secret.is_empty()).then_some((id, secret))
}

/// Whether `secret` matches the stored PHC `hash`.
pub fn verify(secret: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(secret.as_bytes(), &parsed)
            .is_ok()
    })
}

/// A digest of a presented credential, to remember verified ones by without keeping them.
pub fn fingerprint(credential: &str) -> [u8; 32] {
    Sha256::digest(credential.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_verifies_and_nothing_else_does() {
        let t = generate().unwrap();
        assert!(t.hash.starts_with("$argon2id$"), "{}", t.hash);
        assert!(!t.hash.contains(&t.token[PREFIX.len() + ID_LEN + 1..]));
        let (id, secret) = parse(&t.token).unwrap();
        assert_eq!(id, t.id);
        assert!(verify(secret, &t.hash));
        // One changed character of the secret, another token's secret, a broken hash.
        let mut wrong = secret.to_string().into_bytes();
        wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
        assert!(!verify(std::str::from_utf8(&wrong).unwrap(), &t.hash));
        let other = generate().unwrap();
        assert_ne!(other.id, t.id);
        assert!(!verify(parse(&other.token).unwrap().1, &t.hash));
        assert!(!verify(secret, "not a hash"));
    }

    #[test]
    fn only_our_shape_parses() {
        assert!(parse("vx_0123456789abcdef_c2VjcmV0").is_some());
        assert!(parse("vx_0123456789abcdef_").is_none());
        assert!(parse("vx_0123456789abcdeg_x").is_none());
        assert!(parse("vx_0123_x").is_none());
        assert!(parse("eyJhbGciOi.x.y").is_none());
        assert!(parse("").is_none());
        // Multi-byte text where the id would end must not panic.
        assert!(parse("vx_ééééééééé_x").is_none());
    }
}
