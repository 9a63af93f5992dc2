//! Verdicts computed from findings. Only the verdicts a single check
//! can reach are here; `unimplemented`, `error`, `skipped`, `xfail` and `xpass` come with runs.

use acmeproof_protocol::{Findings, Level};
use serde::Serialize;

/// The verdict of one checked input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// No finding above INFO.
    Pass,
    /// Only SHOULD- or MAY-level findings.
    PassNonStrict,
    /// At least one MUST-level finding.
    Fail,
}

impl Verdict {
    /// The verdict for a set of findings.
    pub fn of(findings: &Findings) -> Self {
        if findings.has_must() {
            Verdict::Fail
        } else if findings
            .as_slice()
            .iter()
            .any(|f| matches!(f.level, Level::Should | Level::May))
        {
            Verdict::PassNonStrict
        } else {
            Verdict::Pass
        }
    }

    /// The name printed in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::PassNonStrict => "pass-non-strict",
            Verdict::Fail => "fail",
        }
    }

    /// Whether the input conforms (SHOULD-level findings allowed).
    pub fn conforms(self) -> bool {
        self != Verdict::Fail
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acmeproof_protocol::Finding;

    #[test]
    fn verdict_follows_the_strongest_level() {
        let mut f = Findings::new();
        assert_eq!(Verdict::of(&f), Verdict::Pass);
        f.push(Finding::new("SMIME-35", "x", "y").at(Level::Info));
        assert_eq!(Verdict::of(&f), Verdict::Pass);
        f.push(Finding::new("SMIME-26", "x", "y"));
        assert_eq!(Verdict::of(&f), Verdict::PassNonStrict);
        f.push(Finding::new("SMIME-25", "x", "y"));
        assert_eq!(Verdict::of(&f), Verdict::Fail);
        assert!(!Verdict::Fail.conforms());
    }
}
