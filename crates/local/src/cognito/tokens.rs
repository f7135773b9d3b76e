//! Verifying a user pool's ID token as Cognito identity pools do before they issue an identity
//! or credentials: an RS256 signature by one of the pool's keys (its JWKS), the issuer
//! `https://cognito-idp.REGION.amazonaws.com/POOL`, the audience (the app client id), the use
//! `id`, and an expiry in the future
//! (<https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-tokens-verifying-a-jwt.html>).

use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

/// One RSA key of a pool's JWKS (`kid`, modulus `n`, exponent `e`, base64url).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub kid: String,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

impl Jwk {
    /// The RSA keys of a JWKS document (`{"keys": [...]}`).
    pub fn set_from_json(jwks: &Value) -> Vec<Jwk> {
        jwks["keys"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|key| key["kty"] == "RSA")
            .filter_map(|key| {
                Some(Jwk {
                    kid: key["kid"].as_str()?.to_owned(),
                    n: URL_SAFE_NO_PAD.decode(key["n"].as_str()?).ok()?,
                    e: URL_SAFE_NO_PAD.decode(key["e"].as_str()?).ok()?,
                })
            })
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a JWT")]
    Malformed,
    #[error("the token is signed with {0}, not RS256")]
    Algorithm(String),
    #[error("the token's key {0} is not one of the user pool's")]
    UnknownKey(String),
    #[error("the token's signature is not valid")]
    Signature,
    #[error("the token was issued by {0}, not the identity pool's provider")]
    Issuer(String),
    #[error("the token is for the client {0}, not the identity pool's")]
    Audience(String),
    #[error("the token is an {0} token, not an id token")]
    Use(String),
    #[error("the token expired")]
    Expired,
}

fn decode_part(part: &str) -> Result<Map<String, Value>, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    match serde_json::from_slice(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(TokenError::Malformed),
    }
}

/// The claims of a JWT without any check: for reading which client an access token is for
/// before the user pool itself judges the token.
pub fn unverified_claims(token: &str) -> Result<Map<String, Value>, TokenError> {
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    decode_part(payload)
}

/// The claims of `token` once it is proven an unexpired ID token of `issuer` for `audience`,
/// signed by one of `keys`.
pub fn verify_id_token(
    token: &str,
    keys: &[Jwk],
    issuer: &str,
    audience: &str,
    now_epoch_seconds: i64,
) -> Result<Map<String, Value>, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TokenError::Malformed);
    };
    let header_claims = decode_part(header)?;
    let algorithm = header_claims["alg"].as_str().unwrap_or_default();
    if algorithm != "RS256" {
        return Err(TokenError::Algorithm(algorithm.to_owned()));
    }
    let kid = header_claims
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let key = keys
        .iter()
        .find(|key| key.kid == kid)
        .ok_or_else(|| TokenError::UnknownKey(kid.to_owned()))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TokenError::Malformed)?;
    let signed = &token[..header.len() + 1 + payload.len()];
    RsaPublicKeyComponents {
        n: &key.n,
        e: &key.e,
    }
    .verify(&RSA_PKCS1_2048_8192_SHA256, signed.as_bytes(), &signature)
    .map_err(|_| TokenError::Signature)?;
    let claims = decode_part(payload)?;
    let text = |name: &str| claims.get(name).and_then(Value::as_str).unwrap_or_default();
    if text("iss") != issuer {
        return Err(TokenError::Issuer(text("iss").to_owned()));
    }
    if text("aud") != audience {
        return Err(TokenError::Audience(text("aud").to_owned()));
    }
    if text("token_use") != "id" {
        return Err(TokenError::Use(text("token_use").to_owned()));
    }
    let expires = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
    if expires <= now_epoch_seconds {
        return Err(TokenError::Expired);
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::{KeySize, PublicKeyComponents};
    use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256, RsaKeyPair};
    use serde_json::json;

    use super::*;

    const ISSUER: &str = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_Pool1";

    struct Signer {
        key: RsaKeyPair,
    }

    impl Signer {
        fn new() -> Self {
            Self {
                key: RsaKeyPair::generate(KeySize::Rsa2048).unwrap(),
            }
        }

        fn jwk(&self, kid: &str) -> Jwk {
            let public = PublicKeyComponents::<Vec<u8>>::from(self.key.public_key());
            Jwk {
                kid: kid.to_owned(),
                n: public.n,
                e: public.e,
            }
        }

        fn token(&self, kid: &str, claims: Value) -> String {
            let header = URL_SAFE_NO_PAD.encode(json!({"alg": "RS256", "kid": kid}).to_string());
            let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
            let signed = format!("{header}.{payload}");
            let mut signature = vec![0; self.key.public_modulus_len()];
            self.key
                .sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    signed.as_bytes(),
                    &mut signature,
                )
                .unwrap();
            format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
        }
    }

    fn claims(now: i64) -> Value {
        json!({"iss": ISSUER, "aud": "client1", "token_use": "id", "exp": now + 60,
               "sub": "user-1", "custom:household": "h-1"})
    }

    #[test]
    fn a_valid_id_token_gives_its_claims() {
        let signer = Signer::new();
        let token = signer.token("k1", claims(1000));
        let verified =
            verify_id_token(&token, &[signer.jwk("k1")], ISSUER, "client1", 1000).unwrap();
        assert_eq!(verified["custom:household"], "h-1");
        assert_eq!(unverified_claims(&token).unwrap()["aud"], "client1");
    }

    #[test]
    fn every_check_refuses_what_it_should() {
        let signer = Signer::new();
        let keys = [signer.jwk("k1")];
        let verify = |token: &str| verify_id_token(token, &keys, ISSUER, "client1", 1000);
        assert_eq!(
            verify(&signer.token("k1", claims(0))),
            Err(TokenError::Expired)
        );
        let mut other = claims(1000);
        other["aud"] = "client2".into();
        assert_eq!(
            verify(&signer.token("k1", other)),
            Err(TokenError::Audience("client2".into()))
        );
        let mut access = claims(1000);
        access["token_use"] = "access".into();
        assert_eq!(
            verify(&signer.token("k1", access)),
            Err(TokenError::Use("access".into()))
        );
        let mut issuer = claims(1000);
        issuer["iss"] = "https://elsewhere".into();
        assert!(matches!(
            verify(&signer.token("k1", issuer)),
            Err(TokenError::Issuer(_))
        ));
        assert_eq!(
            verify(&signer.token("k2", claims(1000))),
            Err(TokenError::UnknownKey("k2".into()))
        );
        // Signed by another key under the pool's key id.
        let forged = Signer::new().token("k1", claims(1000));
        assert_eq!(verify(&forged), Err(TokenError::Signature));
        // A changed payload under a genuine signature.
        let token = signer.token("k1", claims(1000));
        let parts: Vec<&str> = token.split('.').collect();
        let mut changed = claims(1000);
        changed["custom:household"] = "h-2".into();
        let tampered = format!(
            "{}.{}.{}",
            parts[0],
            URL_SAFE_NO_PAD.encode(changed.to_string()),
            parts[2]
        );
        assert_eq!(verify(&tampered), Err(TokenError::Signature));
        assert_eq!(verify("not.a-jwt"), Err(TokenError::Malformed));
    }

    #[test]
    fn the_jwks_document_gives_its_rsa_keys() {
        let keys = Jwk::set_from_json(&json!({"keys": [
            {"kty": "RSA", "kid": "a", "n": "AQAB", "e": "AQAB", "alg": "RS256"},
            {"kty": "EC", "kid": "b", "x": "AQAB", "y": "AQAB"},
        ]}));
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].kid, "a");
        assert_eq!(keys[0].e, vec![1, 0, 1]);
    }
}
