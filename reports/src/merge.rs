//! One report from the reports of a run split across CI jobs (`acmeproof run --partition K/N`,
//! then `acmeproof report merge`).
//!
//! The parts must describe one run: the same tool version, system under test, strictness and
//! waiver file, and no scenario (id and knob values) in two parts. The merged report holds
//! every scenario in id order, as a single run of the whole selection lists them; it started
//! when the first part started and lasted as long as the longest part (the jobs run side by
//! side). Its `partition` is `None` when the parts are exactly `1/N` … `N/N`, and otherwise
//! lists the parts it has, so a missing job shows.

use std::collections::{BTreeMap, BTreeSet};

use crate::model::{RunReport, ScenarioResult};

/// Why reports cannot be merged.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum MergeError {
    /// Nothing to merge.
    #[error("no reports to merge")]
    Empty,
    /// Two parts differ where the parts of one run agree.
    #[error(
        "the reports are not parts of one run: {field} is {first:?} in the first, {other:?} in another"
    )]
    Mismatch {
        /// The field that differs.
        field: &'static str,
        /// Its value in the first part.
        first: String,
        /// Its value in a later part.
        other: String,
    },
    /// A scenario (with the same knob values) is in two parts.
    #[error("scenario {id} is in more than one report{variants}")]
    Duplicate {
        /// The scenario id.
        id: String,
        /// Its knob values, as ` (k=v, …)`, or empty.
        variants: String,
    },
}

/// The parts as one report; see the module documentation.
pub fn merge(parts: Vec<RunReport>) -> Result<RunReport, MergeError> {
    let mut parts = parts.into_iter();
    let mut merged = parts.next().ok_or(MergeError::Empty)?;
    let mut partitions: Vec<Option<String>> = vec![merged.partition.take()];
    let mut seen: BTreeSet<(String, BTreeMap<String, String>)> = BTreeSet::new();
    for s in &merged.scenarios {
        note_unique(&mut seen, s)?;
    }
    for part in parts {
        same("tool", &tool(&merged), &tool(&part))?;
        same(
            "implementation",
            &merged.implementation,
            &part.implementation,
        )?;
        same(
            "sut",
            &format!("{:?}", merged.sut),
            &format!("{:?}", part.sut),
        )?;
        same(
            "strict",
            &merged.strict.to_string(),
            &part.strict.to_string(),
        )?;
        same(
            "waiver_file",
            &format!("{:?}", merged.waiver_file),
            &format!("{:?}", part.waiver_file),
        )?;
        for s in &part.scenarios {
            note_unique(&mut seen, s)?;
        }
        if part.started_at < merged.started_at {
            merged.started_at = part.started_at;
        }
        merged.duration_ms = merged.duration_ms.max(part.duration_ms);
        merged.scenarios.extend(part.scenarios);
        partitions.push(part.partition);
    }
    merged
        .scenarios
        .sort_by(|a, b| (&a.id, &a.variants).cmp(&(&b.id, &b.variants)));
    merged.partition = covered(&partitions);
    merged.summarize();
    Ok(merged)
}

fn tool(r: &RunReport) -> String {
    format!("{} {}", r.tool.name, r.tool.version)
}

fn same(field: &'static str, first: &str, other: &str) -> Result<(), MergeError> {
    if first == other {
        Ok(())
    } else {
        Err(MergeError::Mismatch {
            field,
            first: first.to_owned(),
            other: other.to_owned(),
        })
    }
}

fn note_unique(
    seen: &mut BTreeSet<(String, BTreeMap<String, String>)>,
    s: &ScenarioResult,
) -> Result<(), MergeError> {
    if seen.insert((s.id.clone(), s.variants.clone())) {
        return Ok(());
    }
    let variants = if s.variants.is_empty() {
        String::new()
    } else {
        let kv: Vec<String> = s.variants.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!(" ({})", kv.join(", "))
    };
    Err(MergeError::Duplicate {
        id: s.id.clone(),
        variants,
    })
}

/// `None` when the parts are the whole selection: one part without a partition, or exactly
/// `1/N` … `N/N`. Otherwise the parts' partitions (`whole` for a part without one), joined.
fn covered(partitions: &[Option<String>]) -> Option<String> {
    if let [None] = partitions {
        return None;
    }
    let parsed: Option<Vec<(u32, u32)>> = partitions
        .iter()
        .map(|p| {
            let (k, n) = p.as_deref()?.split_once('/')?;
            Some((k.parse().ok()?, n.parse().ok()?))
        })
        .collect();
    if let Some(mut parsed) = parsed {
        parsed.sort_unstable();
        let n = parsed.first().map_or(0, |p| p.1);
        let whole: Vec<(u32, u32)> = (1..=n).map(|k| (k, n)).collect();
        if parsed == whole {
            return None;
        }
    }
    let names: Vec<&str> = partitions
        .iter()
        .map(|p| p.as_deref().unwrap_or("whole"))
        .collect();
    Some(names.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Outcome, Role, SutKind, ToolInfo};

    fn part(partition: Option<&str>, ids: &[&str], duration_ms: u64, started: &str) -> RunReport {
        let mut r = RunReport::new(
            ToolInfo::new("acmeproof", "0.1.0"),
            started,
            "reference",
            SutKind::Reference,
            false,
        );
        r.partition = partition.map(str::to_owned);
        r.duration_ms = duration_ms;
        for id in ids {
            let mut s = ScenarioResult::new(*id, "t", Role::Client);
            s.outcome = if id.contains("bad") {
                Outcome::Fail
            } else {
                Outcome::Pass
            };
            r.scenarios.push(s);
        }
        r.summarize();
        r
    }

    #[test]
    fn parts_of_one_run_merge_in_id_order() {
        let merged = merge(vec![
            part(Some("2/3"), &["a/2", "a/5"], 30, "2025-01-01T00:00:02Z"),
            part(Some("1/3"), &["a/1", "a/4-bad"], 50, "2025-01-01T00:00:01Z"),
            part(Some("3/3"), &["a/3"], 10, "2025-01-01T00:00:03Z"),
        ])
        .unwrap();
        let ids: Vec<&str> = merged.scenarios.iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a/1", "a/2", "a/3", "a/4-bad", "a/5"]);
        assert_eq!(merged.partition, None);
        assert_eq!((merged.summary.pass, merged.summary.fail), (4, 1));
        assert_eq!(merged.duration_ms, 50);
        assert_eq!(merged.started_at, "2025-01-01T00:00:01Z");
    }

    #[test]
    fn a_missing_part_shows_in_the_partition() {
        let merged = merge(vec![
            part(Some("1/3"), &["a/1"], 1, "t"),
            part(Some("3/3"), &["a/3"], 1, "t"),
        ])
        .unwrap();
        assert_eq!(merged.partition.as_deref(), Some("1/3,3/3"));
        let one = merge(vec![part(Some("2/2"), &["a/1"], 1, "t")]).unwrap();
        assert_eq!(one.partition.as_deref(), Some("2/2"));
        let whole = merge(vec![part(None, &["a/1"], 1, "t")]).unwrap();
        assert_eq!(whole.partition, None);
    }

    #[test]
    fn reports_of_different_runs_or_overlapping_parts_are_refused() {
        assert_eq!(merge(Vec::new()), Err(MergeError::Empty));
        let mut strict = part(Some("2/2"), &["a/2"], 1, "t");
        strict.strict = true;
        let err = merge(vec![part(Some("1/2"), &["a/1"], 1, "t"), strict]).unwrap_err();
        assert!(
            matches!(
                err,
                MergeError::Mismatch {
                    field: "strict",
                    ..
                }
            ),
            "{err}"
        );
        let mut other = part(Some("2/2"), &["a/2"], 1, "t");
        other.implementation = "client: x".into();
        let err = merge(vec![part(Some("1/2"), &["a/1"], 1, "t"), other]).unwrap_err();
        assert!(err.to_string().contains("implementation"), "{err}");
        let err = merge(vec![
            part(Some("1/2"), &["a/1", "a/2"], 1, "t"),
            part(Some("2/2"), &["a/2"], 1, "t"),
        ])
        .unwrap_err();
        assert_eq!(err.to_string(), "scenario a/2 is in more than one report");
        // The same id with other knob values is another scenario run.
        let mut a = part(Some("1/2"), &["a/1"], 1, "t");
        a.scenarios[0]
            .variants
            .insert("join".into(), "string".into());
        let mut b = part(Some("2/2"), &["a/1"], 1, "t");
        b.scenarios[0]
            .variants
            .insert("join".into(), "binary".into());
        assert_eq!(merge(vec![a, b]).unwrap().scenarios.len(), 2);
    }
}
