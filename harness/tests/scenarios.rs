//! Every scenario of `scenarios/` against the reference implementations, one trial each
//! (libtest-mimic), named by the scenario id: `cargo test --test scenarios -- smime/` runs a
//! subset, and `cargo nextest run --test scenarios --partition count:1/4` shards them.
//!
//! A trial passes when the scenario's outcome is the one its file expects.

use std::path::PathBuf;

use acmeproof::scenario::{self, LoadedScenario};
use libtest_mimic::{Arguments, Failed, Trial};

fn main() {
    let args = Arguments::from_args();
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let trials = match scenario::load_dir(&dir) {
        Ok(scenarios) => scenarios.into_iter().map(trial).collect(),
        // A file that does not load is one failing trial that says why.
        Err(e) => vec![Trial::test("load scenarios", move || {
            Err(e.to_string().into())
        })],
    };
    libtest_mimic::run(&args, trials).exit();
}

fn trial(scenario: LoadedScenario) -> Trial {
    let name = scenario.file.id.clone();
    let kind = scenario.spec().to_owned();
    Trial::test(name, move || check(&scenario)).with_kind(kind)
}

fn check(scenario: &LoadedScenario) -> Result<(), Failed> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    let run = runtime.block_on(scenario::run::run(scenario, scenario.seed()));
    let outcome = scenario::outcome_of(&run, false);
    if outcome == scenario.file.expect {
        return Ok(());
    }
    let mut text = format!(
        "{}: expected {}, got {outcome}",
        scenario.path.display(),
        scenario.file.expect.as_str()
    );
    if let Some(e) = &run.error {
        text.push_str(&format!("\n  harness error: {e}"));
    }
    for f in run.findings.as_slice() {
        text.push_str(&format!(
            "\n  {} {}: expected {}; observed {}",
            f.req,
            f.level.as_str(),
            f.expected,
            f.observed
        ));
    }
    for s in &run.steps {
        if let Some(d) = &s.detail {
            text.push_str(&format!("\n  step {} {}: {d}", s.index + 1, s.action));
        }
    }
    Err(text.into())
}
