//! OpenID Connect bearer tokens: JWTs issued by the hospital's identity provider (Keycloak,
//! Entra ID, ...), verified here against the provider's JSON Web Key Set.
//!
//! Accepted: RS256 and ES256 signatures only (never `none`, never HMAC: a public key must not
//! double as a shared secret), a key found by `kid` in the set (or the set's only key), the
//! configured issuer, one of the configured audiences, an expiry in the future (60 s leeway
//! for clock skew) and a `nbf` in the past. The role comes from a claim (a string or an array
//! of strings; the first that names a voxide role counts), the collections from another.

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{decode, decode_header, Algorithm, DecodingKey, Validation};
use serde_json::Value;

use crate::{AuthError, Method, Principal, Role};

/// Which provider to trust and how to read its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The `iss` the tokens must carry.
    pub issuer: String,
    /// Accepted `aud` values (the client id registered for voxide).
    pub audiences: Vec<String>,
    /// The claim naming the user (`sub`, or `preferred_username`).
    pub name_claim: String,
    /// The claim holding the role (`voxide_role`, or `roles`, `groups`).
    pub role_claim: String,
    /// The claim holding granted collections (an array or a space-separated string); may be
    /// absent from tokens, grants stored for `oidc:<name>` count too.
    pub collections_claim: String,
}

/// Verifies bearer JWTs of one issuer.
#[derive(Debug, Clone)]
pub struct OidcVerifier {
    settings: OidcSettings,
    keys: JwkSet,
}

impl OidcVerifier {
    /// A verifier from the issuer's JWKS document (JSON).
    pub fn new(settings: OidcSettings, jwks_json: &str) -> Result<Self, AuthError> {
        let keys: JwkSet = serde_json::from_str(jwks_json)
            .map_err(|e| AuthError::Config(format!("the JWKS is not a JSON Web Key Set: {e}")))?;
        if keys.keys.is_empty() {
            return Err(AuthError::Config("the JWKS holds no keys".into()));
        }
        if settings.audiences.is_empty() {
            return Err(AuthError::Config(
                "OpenID Connect needs at least one audience (voxide's client id)".into(),
            ));
        }
        Ok(Self { settings, keys })
    }

    /// Whether `credential` looks like a JWT (three base64url parts), so that other
    /// credentials are not reported as bad JWTs.
    pub fn looks_like_jwt(credential: &str) -> bool {
        credential.split('.').count() == 3 && credential.starts_with("eyJ")
    }

    /// The principal a valid token names; the reason otherwise.
    pub fn verify(&self, token: &str) -> Result<Principal, AuthError> {
        let header =
            decode_header(token).map_err(|e| AuthError::Invalid(format!("bad JWT header: {e}")))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(AuthError::Invalid(format!(
                "JWT algorithm {:?} is not accepted (RS256 or ES256)",
                header.alg
            )));
        }
        let jwk = match &header.kid {
            Some(kid) => self.keys.find(kid),
            None if self.keys.keys.len() == 1 => self.keys.keys.first(),
            None => None,
        }
        .ok_or_else(|| {
            AuthError::Invalid(format!(
                "no key {} in the issuer's key set",
                header.kid.as_deref().unwrap_or("(the token names none)")
            ))
        })?;
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|e| AuthError::Invalid(format!("unusable key in the key set: {e}")))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&self.settings.issuer]);
        validation.set_audience(&self.settings.audiences);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = 60;
        let data = decode::<serde_json::Map<String, Value>>(token, &key, &validation)
            .map_err(|e| AuthError::Invalid(format!("JWT refused: {e}")))?;
        let claims = data.claims;
        let name = claims
            .get(&self.settings.name_claim)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| {
                AuthError::Invalid(format!(
                    "the JWT has no '{}' claim",
                    self.settings.name_claim
                ))
            })?;
        let role = strings(claims.get(&self.settings.role_claim))
            .iter()
            .find_map(|r| r.parse::<Role>().ok())
            .ok_or_else(|| {
                AuthError::Invalid(format!(
                    "the JWT's '{}' claim names no voxide role (admin, uploader, clinician, researcher, auditor)",
                    self.settings.role_claim
                ))
            })?;
        Ok(Principal {
            name: format!("oidc:{name}"),
            role,
            collections: strings(claims.get(&self.settings.collections_claim)),
            method: Method::Oidc,
            upload_collection: None,
        })
    }
}

/// A claim as a list of strings: an array of strings, or one string split on spaces.
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => s.split_whitespace().map(str::to_string).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    }
}
