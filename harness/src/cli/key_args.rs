//! The account-key options shared by `digest` and `lint response`.

use std::path::PathBuf;

use clap::Args;

use super::CliError;
use crate::keys;

/// One way of naming the ACME account key.
#[derive(Debug, Clone, Args)]
#[group(multiple = false)]
pub struct KeyArgs {
    /// The account key as a JWK file (public or private).
    #[arg(long, value_name = "FILE")]
    pub jwk: Option<PathBuf>,
    /// The account key as a PEM private key (RSA, EC or Ed25519).
    #[arg(long, value_name = "PEM")]
    pub key: Option<PathBuf>,
    /// The RFC 7638 thumbprint itself, when the key is not at hand.
    #[arg(long, value_name = "THUMBPRINT")]
    pub thumbprint: Option<String>,
}

impl KeyArgs {
    /// Whether any key option was given.
    pub fn given(&self) -> bool {
        self.jwk.is_some() || self.key.is_some() || self.thumbprint.is_some()
    }

    /// The thumbprint, read from whichever option was given.
    pub fn thumbprint(&self) -> Result<String, CliError> {
        if let Some(path) = &self.jwk {
            return Ok(keys::load_jwk(path)?.thumbprint);
        }
        if let Some(path) = &self.key {
            return Ok(keys::load_pem(path)?.thumbprint);
        }
        match &self.thumbprint {
            Some(t)
                if acmeproof_protocol::b64url::decode_strict(t).is_ok_and(|b| b.len() == 32) =>
            {
                Ok(t.clone())
            }
            Some(t) => Err(CliError::Input(format!(
                "--thumbprint {t:?} is not a base64url SHA-256 value (43 characters)"
            ))),
            None => Err(CliError::Input(
                "an account key is needed: give --jwk FILE, --key PEM or --thumbprint T".into(),
            )),
        }
    }
}
