//! OpenID Connect tokens signed with test keys made by openssl; the verifier reads their public
//! halves from a JWKS written by Python's `cryptography` (see tests/keys/README.md), so keys
//! reach it the way an identity provider publishes them.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use voxide_auth::oidc::{OidcSettings, OidcVerifier};
use voxide_auth::{Method, Role};

const KEYS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/keys");

fn settings() -> OidcSettings {
    OidcSettings {
        issuer: "https://login.hospital.example/realms/imaging".into(),
        audiences: vec!["voxide".into()],
        name_claim: "preferred_username".into(),
        role_claim: "voxide_role".into(),
        collections_claim: "voxide_collections".into(),
    }
}

fn verifier() -> OidcVerifier {
    let jwks = std::fs::read_to_string(format!("{KEYS}/jwks.json")).unwrap();
    OidcVerifier::new(settings(), &jwks).unwrap()
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn claims() -> Value {
    json!({
        "iss": "https://login.hospital.example/realms/imaging",
        "aud": ["voxide", "account"],
        "sub": "5f1c0a",
        "preferred_username": "alice",
        "exp": now() + 300,
        "iat": now(),
        "voxide_role": ["offline_access", "researcher"],
        "voxide_collections": "lung-trial partner-b",
    })
}

fn sign(alg: Algorithm, kid: Option<&str>, claims: &Value) -> String {
    let key = match alg {
        Algorithm::RS256 => {
            EncodingKey::from_rsa_pem(&std::fs::read(format!("{KEYS}/rsa-test.pem")).unwrap())
                .unwrap()
        }
        Algorithm::ES256 => {
            EncodingKey::from_ec_pem(&std::fs::read(format!("{KEYS}/ec-test.pem")).unwrap())
                .unwrap()
        }
        Algorithm::HS256 => EncodingKey::from_secret(b"shared"),
        _ => unreachable!(),
    };
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    encode(&header, claims, &key).unwrap()
}

#[test]
fn rs256_and_es256_tokens_of_the_issuer_are_accepted() {
    let v = verifier();
    for (alg, kid) in [
        (Algorithm::RS256, "test-rsa"),
        (Algorithm::ES256, "test-ec"),
    ] {
        let token = sign(alg, Some(kid), &claims());
        assert!(OidcVerifier::looks_like_jwt(&token));
        let p = v.verify(&token).unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(p.name, "oidc:alice");
        assert_eq!(p.role, Role::Researcher);
        assert_eq!(p.collections, ["lung-trial", "partner-b"]);
        assert_eq!(p.method, Method::Oidc);
    }
}

#[test]
fn every_kind_of_bad_token_is_refused_with_its_reason() {
    let v = verifier();
    let refused = |token: &str, why: &str| {
        let e = v.verify(token).unwrap_err().to_string();
        assert!(e.contains(why), "expected '{why}' in: {e}");
    };
    let mut c = claims();
    c["exp"] = json!(now() - 3600);
    refused(&sign(Algorithm::RS256, Some("test-rsa"), &c), "Expired");
    let mut c = claims();
    c["aud"] = json!("another-app");
    refused(&sign(Algorithm::RS256, Some("test-rsa"), &c), "Audience");
    let mut c = claims();
    c["iss"] = json!("https://evil.example");
    refused(&sign(Algorithm::RS256, Some("test-rsa"), &c), "Issuer");
    let mut c = claims();
    c["nbf"] = json!(now() + 3600);
    refused(&sign(Algorithm::ES256, Some("test-ec"), &c), "Immature");
    let mut c = claims();
    c.as_object_mut().unwrap().remove("exp");
    refused(&sign(Algorithm::ES256, Some("test-ec"), &c), "exp");
    let mut c = claims();
    c["voxide_role"] = json!("doctor");
    refused(
        &sign(Algorithm::ES256, Some("test-ec"), &c),
        "names no voxide role",
    );
    let mut c = claims();
    c.as_object_mut().unwrap().remove("preferred_username");
    refused(
        &sign(Algorithm::ES256, Some("test-ec"), &c),
        "preferred_username",
    );
    // HMAC with a shared secret, an unknown key id, a key id naming the wrong key type.
    refused(
        &sign(Algorithm::HS256, Some("test-rsa"), &claims()),
        "not accepted",
    );
    refused(
        &sign(Algorithm::RS256, Some("rotated-away"), &claims()),
        "no key rotated-away",
    );
    refused(
        &sign(Algorithm::ES256, Some("test-rsa"), &claims()),
        "JWT refused",
    );
    // A key set of two keys needs the token to say which.
    refused(&sign(Algorithm::RS256, None, &claims()), "names none");
    // A valid token with one changed claim byte (the signature no longer matches).
    let token = sign(Algorithm::RS256, Some("test-rsa"), &claims());
    let parts: Vec<&str> = token.split('.').collect();
    let mut payload = parts[1].to_string().into_bytes();
    payload[10] = if payload[10] == b'A' { b'B' } else { b'A' };
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        String::from_utf8(payload).unwrap(),
        parts[2]
    );
    assert!(v.verify(&forged).is_err());
    // Not a JWT at all.
    assert!(v.verify("vx_0123456789abcdef_abc").is_err());
    assert!(v.verify("").is_err());
}

#[test]
fn bad_settings_are_configuration_errors() {
    assert!(OidcVerifier::new(settings(), "{}").is_err());
    assert!(OidcVerifier::new(settings(), "{\"keys\": []}").is_err());
    let jwks = std::fs::read_to_string(format!("{KEYS}/jwks.json")).unwrap();
    let mut s = settings();
    s.audiences.clear();
    assert!(OidcVerifier::new(s, &jwks).is_err());
}
