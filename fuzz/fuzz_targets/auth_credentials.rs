//! Bearer credentials are untrusted text: API token parsing and OpenID Connect JWT checking
//! (header, base64url parts, claims) must refuse anything malformed with an error, never panic
//! or accept it. Tokens signed by the test keys are out of the fuzzer's reach, so nothing it
//! makes may verify.
#![no_main]

use libfuzzer_sys::fuzz_target;
use voxide_auth::oidc::{OidcSettings, OidcVerifier};

const JWKS: &str = include_str!("../../crates/voxide-auth/tests/keys/jwks.json");

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some((id, secret)) = voxide_auth::token::parse(text) {
        assert_eq!(id.len(), 16);
        assert!(!secret.is_empty());
    }
    let settings = OidcSettings {
        issuer: "https://login.example".into(),
        audiences: vec!["voxide".into()],
        name_claim: "sub".into(),
        role_claim: "voxide_role".into(),
        collections_claim: "voxide_collections".into(),
    };
    let verifier = OidcVerifier::new(settings, JWKS).unwrap();
    assert!(verifier.verify(text).is_err());
    let _ = voxide_auth::AddressPattern::parse(text);
});
