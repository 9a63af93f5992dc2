//! Reverse coverage: every MUST and SHOULD row of the catalogue has a checker — code that
//! decides or reports it (`acmeproof::checkers`, indexed at build time from the non-test code),
//! or a scenario step whose expectation is filed under it — and is exercised by at least one
//! scenario, unless the catalogue says in one line why no
//! scenario can (`requirements::UNTESTABLE`). The catalogue test checks the other direction:
//! every id the workspace mentions is a row.

use std::path::Path;

use acmeproof::checkers::checkers_of;
use acmeproof::scenario::{self, LoadedScenario};
use acmeproof_protocol::Level;
use acmeproof_protocol::requirements::{CATALOGUE, Requirement, untestable};

fn scenarios() -> Vec<LoadedScenario> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    scenario::load_dir(&dir).expect("scenarios load")
}

fn exercised_by(id: &str, all: &[LoadedScenario]) -> usize {
    all.iter()
        .filter(|s| {
            s.file.requirements.iter().any(|r| r == id)
                || s.file
                    .steps
                    .iter()
                    .any(|step| step.requirements().contains(&id))
        })
        .count()
}

/// Whether a scenario step files its expectation under `id` (`req = "SMIME-18"`): the step's
/// own check (an authorization's status, a probe's answer) is then the checker, and the id is
/// decided where the step is written.
fn decided_by_a_step(id: &str, all: &[LoadedScenario]) -> bool {
    all.iter().any(|s| {
        s.file
            .steps
            .iter()
            .any(|step| step.requirements().contains(&id))
    })
}

/// What each binding row lacks: a checker (code that names it, or a step that files under
/// it), a scenario, or both.
fn gaps(all: &[LoadedScenario]) -> Vec<(&'static Requirement, bool, bool)> {
    CATALOGUE
        .iter()
        .filter(|r| matches!(r.level, Level::Must | Level::Should))
        .map(|r| {
            (
                r,
                checkers_of(r.id).next().is_some() || decided_by_a_step(r.id, all),
                exercised_by(r.id, all) > 0,
            )
        })
        .filter(|(_, code, scenario)| !(*code && *scenario))
        .collect()
}

#[test]
fn every_must_and_should_row_has_a_checker_and_a_scenario() {
    let all = scenarios();
    let missing: Vec<String> = gaps(&all)
        .into_iter()
        .filter(|(r, _, _)| untestable(r.id).is_none())
        .map(|(r, code, scenario)| {
            let lacks: Vec<&str> = [
                (!code).then_some("no checker names it"),
                (!scenario).then_some("no scenario exercises it"),
            ]
            .into_iter()
            .flatten()
            .collect();
            format!(
                "{} {} ({}): {}",
                r.id,
                r.keyword(),
                r.source,
                lacks.join("; ")
            )
        })
        .collect();
    assert!(
        missing.is_empty(),
        "{} MUST/SHOULD rows are not covered (add the checker or scenario, or say in \
         requirements::UNTESTABLE why it cannot be tested):\n  {}",
        missing.len(),
        missing.join("\n  ")
    );
}

#[test]
fn no_row_is_called_untestable_once_it_is_covered() {
    let all = scenarios();
    let gaps = gaps(&all);
    for (id, _) in acmeproof_protocol::requirements::UNTESTABLE {
        assert!(
            gaps.iter().any(|(r, _, _)| r.id == *id),
            "{id} has a checker and a scenario now: take it off requirements::UNTESTABLE"
        );
    }
}

#[test]
fn the_coverage_check_sees_a_covered_row_and_an_uncovered_one() {
    let all = scenarios();
    // SMIME-51 (a reply without DKIM is refused) has its checker and scenarios.
    assert!(checkers_of("SMIME-51").next().is_some());
    assert!(exercised_by("SMIME-51", &all) > 0);
    // An id no row has is named nowhere: the check does not pass by default. (Built, so the
    // workspace scan for unknown ids does not see one.)
    let unknown = format!("SMIME-{}", 0);
    assert!(checkers_of(&unknown).next().is_none());
    assert_eq!(exercised_by(&unknown, &all), 0);
}
