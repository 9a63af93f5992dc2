//! One mailbox per scenario in a world the scenarios share (a server under test). The server
//! is configured once with one world, so without this every scenario would order the same
//! address and read the same INBOX, and a late challenge mail of one scenario could be taken
//! for another's. Each world user a scenario names (`alice`, `eai`, or the full address, in any
//! step) becomes a fresh mailbox of that scenario's own, in the same domain: same MX, same DKIM
//! key, same Submission, so nothing else about the scenario changes.

use std::collections::BTreeMap;
use std::path::Path;

use acmeproof_mocks::seed::Seed;
use acmeproof_mocks::world::World;
use sha2::Digest as _;

use super::LoadedScenario;

/// A scenario's mailboxes: each world user's address → (the scenario's address, its password).
#[derive(Debug, Clone, Default)]
pub struct ScenarioMailboxes {
    by_original: BTreeMap<String, (String, String)>,
}

impl ScenarioMailboxes {
    /// The scenario's mailbox standing for world user `original`, if it has one.
    pub fn get(&self, original: &str) -> Option<&(String, String)> {
        self.by_original.get(original)
    }

    /// The scenario's mailbox passwords (for redaction).
    pub fn passwords(&self) -> impl Iterator<Item = &str> {
        self.by_original
            .values()
            .map(|(_, password)| password.as_str())
    }

    /// Every (world user, the scenario's address) pair.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.by_original
            .iter()
            .map(|(from, (to, _))| (from.as_str(), to.as_str()))
    }
}

/// `local-TAG@domain` for the scenario `id`: TAG is the first 32 bits of SHA-256 over the id and
/// the address, so the same scenario gets the same mailbox on every run and machine.
fn scenario_address(id: &str, address: &str) -> String {
    let hash = sha2::Sha256::digest(format!("{id}\0{address}").as_bytes());
    let tag: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    match acmeproof_protocol::address::split(address) {
        Some((local, domain)) => format!("{local}-{tag}@{domain}"),
        None => format!("{address}-{tag}"),
    }
}

/// Creates `scenario`'s mailboxes in `world` (once: a second call for the same scenario and seed
/// finds them) and returns them with the scenario, every world user's address in its text
/// replaced by the scenario's own (in an order, a reply's From or Cc, a CSR).
pub fn prepare(
    world: &World,
    scenario: &LoadedScenario,
    seed: Seed,
) -> Result<(LoadedScenario, ScenarioMailboxes), String> {
    let Some(mail) = &world.mail else {
        return Ok((scenario.clone(), ScenarioMailboxes::default()));
    };
    let mut boxes = ScenarioMailboxes::default();
    for user in &mail.users {
        let address = scenario_address(&scenario.file.id, &user.address);
        let password = seed.stream(&format!("mailbox {address}")).token(12);
        if !mail.store.user_exists(&address) {
            mail.store
                .add_user(&address, &password)
                .map_err(|e| format!("the scenario's mailbox {address}: {e}"))?;
        } else if mail.store.authenticate(&address, &password).is_none() {
            return Err(format!(
                "the scenario's mailbox {address} exists with another password (the same \
                 scenario run twice with different seeds in one world)"
            ));
        }
        boxes
            .by_original
            .insert(user.address.clone(), (address, password));
    }
    let mut text = scenario.source.clone();
    // Longest first, so an address that contains another is replaced whole.
    let mut pairs: Vec<(&str, &str)> = boxes.pairs().collect();
    pairs.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    for (from, to) in pairs {
        text = text.replace(from, to);
    }
    let mut rewritten = super::load::parse(Path::new(&scenario.path), &text)
        .map_err(|e| format!("the scenario with its own mailboxes: {e}"))?;
    // Re-read from its text, the scenario lost the client side of the variants a matrix set
    // in memory (the CA side is the server under test's own): set them again.
    for (name, client) in &scenario.client_values {
        let variant = super::variants::lookup(name)
            .ok_or_else(|| format!("the scenario's variant {name:?} is not a variant"))?;
        super::variants::apply_client(&mut rewritten, variant, client)?;
    }
    rewritten.client_values = scenario.client_values.clone();
    Ok((rewritten, boxes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scenario_address_is_stable_and_its_own() {
        let a = scenario_address("rfc8823/3.2/x", "alice@example.test");
        assert_eq!(a, scenario_address("rfc8823/3.2/x", "alice@example.test"));
        assert_ne!(a, scenario_address("rfc8823/3.2/y", "alice@example.test"));
        assert!(
            a.starts_with("alice-") && a.ends_with("@example.test"),
            "{a}"
        );
        let eai = scenario_address("rfc8823/3.2/x", "δοκιμή@παράδειγμα.δοκιμή");
        assert!(eai.starts_with("δοκιμή-") && eai.ends_with("@παράδειγμα.δοκιμή"));
    }
}
