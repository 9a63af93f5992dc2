//! The CA's URL space. Every URL a client sees is built here, so the `url` check of a JWS
//! (ACME-12) compares against exactly the strings the server hands out.

/// The base URL (`https://127.0.0.1:PORT`) and the paths under it.
#[derive(Debug, Clone)]
pub struct Urls {
    base: String,
}

/// Path prefixes of the ACME resources (the router and the URL builder share them).
pub mod paths {
    /// The directory.
    pub const DIRECTORY: &str = "/directory";
    /// newNonce.
    pub const NEW_NONCE: &str = "/acme/new-nonce";
    /// newAccount.
    pub const NEW_ACCOUNT: &str = "/acme/new-account";
    /// newOrder.
    pub const NEW_ORDER: &str = "/acme/new-order";
    /// revokeCert.
    pub const REVOKE_CERT: &str = "/acme/revoke-cert";
    /// keyChange.
    pub const KEY_CHANGE: &str = "/acme/key-change";
    /// Accounts: `/acme/acct/{id}` and `/acme/acct/{id}/orders`.
    pub const ACCOUNT: &str = "/acme/acct";
    /// Orders: `/acme/order/{id}` and `/acme/order/{id}/finalize`.
    pub const ORDER: &str = "/acme/order";
    /// Authorizations.
    pub const AUTHZ: &str = "/acme/authz";
    /// Challenges.
    pub const CHALLENGE: &str = "/acme/chall";
    /// Certificates.
    pub const CERT: &str = "/acme/cert";
    /// ARI renewal information (RFC 9773 §4): `/acme/renewal-info/{certID}`.
    pub const RENEWAL_INFO: &str = "/acme/renewal-info";
    /// The intermediate's CRL (RFC 5280 §5), named in every certificate it issues.
    pub const CRL: &str = "/crl";
    /// The terms of service document.
    pub const TERMS: &str = "/terms";
}

impl Urls {
    /// URLs under `base` (no trailing slash).
    pub fn new(base: impl Into<String>) -> Self {
        let mut base = base.into();
        while base.ends_with('/') {
            base.pop();
        }
        Urls { base }
    }

    /// The base, e.g. `https://127.0.0.1:40123`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `path`.
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The directory URL.
    pub fn directory(&self) -> String {
        self.at(paths::DIRECTORY)
    }

    /// An account URL (also the `kid` of its requests).
    pub fn account(&self, id: &str) -> String {
        format!("{}{}/{id}", self.base, paths::ACCOUNT)
    }

    /// An account's order list.
    pub fn account_orders(&self, id: &str) -> String {
        format!("{}/orders", self.account(id))
    }

    /// An order.
    pub fn order(&self, id: &str) -> String {
        format!("{}{}/{id}", self.base, paths::ORDER)
    }

    /// An order's finalize URL.
    pub fn finalize(&self, id: &str) -> String {
        format!("{}/finalize", self.order(id))
    }

    /// An authorization.
    pub fn authz(&self, id: &str) -> String {
        format!("{}{}/{id}", self.base, paths::AUTHZ)
    }

    /// A challenge.
    pub fn challenge(&self, id: &str) -> String {
        format!("{}{}/{id}", self.base, paths::CHALLENGE)
    }

    /// A certificate.
    pub fn cert(&self, id: &str) -> String {
        format!("{}{}/{id}", self.base, paths::CERT)
    }

    /// The CRL (every certificate's CRL distribution point).
    pub fn crl(&self) -> String {
        self.at(paths::CRL)
    }

    /// The account id in an account URL (a `kid`), if it is one of ours.
    pub fn account_id_of<'a>(&self, kid: &'a str) -> Option<&'a str> {
        let rest = kid.strip_prefix(self.base.as_str())?;
        let id = rest.strip_prefix(paths::ACCOUNT)?.strip_prefix('/')?;
        (!id.is_empty() && !id.contains('/')).then_some(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kid_round_trips_and_foreign_urls_do_not() {
        let urls = Urls::new("https://127.0.0.1:1/");
        assert_eq!(urls.account("a1"), "https://127.0.0.1:1/acme/acct/a1");
        assert_eq!(urls.account_id_of(&urls.account("a1")), Some("a1"));
        assert_eq!(urls.account_id_of("https://127.0.0.1:2/acme/acct/a1"), None);
        assert_eq!(urls.account_id_of(&urls.account_orders("a1")), None);
        assert_eq!(urls.account_id_of("https://127.0.0.1:1/acme/acct/"), None);
    }
}
