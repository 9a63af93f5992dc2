//! Account keys given on the command line: a JWK file or a PEM private key, turned into the
//! public JWK whose RFC 7638 thumbprint the key authorization needs.

use std::path::{Path, PathBuf};

use acmeproof_protocol::jwk;
use josekit::jwk::KeyPair as _;
use josekit::jwk::alg::ec::{EcCurve, EcKeyPair};
use josekit::jwk::alg::ed::EdKeyPair;
use josekit::jwk::alg::rsa::RsaKeyPair;
use serde_json::Value;

/// Why a key could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a JWK acmeproof can take a thumbprint of.
    #[error("{path} is not a usable JWK: {reason}")]
    Jwk {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The file is not a PEM private key of a supported type.
    #[error(
        "{0} is not a PEM private key acmeproof can read (RSA, EC P-256/P-384/P-521 or Ed25519, PKCS#1, SEC 1 or PKCS#8)"
    )]
    Pem(PathBuf),
}

/// An account key's public JWK and its RFC 7638 thumbprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountKey {
    /// The public JWK.
    pub public_jwk: Value,
    /// RFC 7638 thumbprint, base64url.
    pub thumbprint: String,
}

/// Reads a JWK file (public or private).
pub fn load_jwk(path: &Path) -> Result<AccountKey, KeyError> {
    let text = read(path)?;
    let value: Value = serde_json::from_slice(&text).map_err(|e| KeyError::Jwk {
        path: path.into(),
        reason: format!("not JSON: {e}"),
    })?;
    account_key(value).map_err(|e| KeyError::Jwk {
        path: path.into(),
        reason: e.to_string(),
    })
}

/// Reads a PEM private key: RSA (PKCS#1 or PKCS#8), EC (SEC 1 or PKCS#8) or Ed25519 (PKCS#8).
pub fn load_pem(path: &Path) -> Result<AccountKey, KeyError> {
    let pem = read(path)?;
    let public = RsaKeyPair::from_pem(&pem)
        .map(|k| k.to_jwk_public_key())
        .or_else(|_| EdKeyPair::from_pem(&pem).map(|k| k.to_jwk_public_key()))
        .or_else(|_| {
            // SEC 1 ("EC PRIVATE KEY") files may need the curve named.
            [
                None,
                Some(EcCurve::P256),
                Some(EcCurve::P384),
                Some(EcCurve::P521),
            ]
            .into_iter()
            .find_map(|curve| EcKeyPair::from_pem(&pem, curve).ok())
            .map(|k| k.to_jwk_public_key())
            .ok_or(())
        })
        .map_err(|_| KeyError::Pem(path.into()))?;
    let value = Value::Object(public.as_ref().clone());
    account_key(value).map_err(|e| KeyError::Jwk {
        path: path.into(),
        reason: e.to_string(),
    })
}

fn account_key(value: Value) -> Result<AccountKey, jwk::JwkError> {
    let thumbprint = jwk::thumbprint(&value)?;
    Ok(AccountKey {
        public_jwk: value,
        thumbprint,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, KeyError> {
    std::fs::read(path).map_err(|source| KeyError::Read {
        path: path.into(),
        source,
    })
}
