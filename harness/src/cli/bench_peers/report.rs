//! The figures of one workload: every round of both sides, the null server's, and how they
//! print (medians, spread, ratios, the target) and serialize.

use std::io::Write;

use serde_json::{Value, json};

use super::Measured;

/// Which server a figure is of.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Side {
    Ours,
    Peer,
}

/// The performance target of a workload, printed beside its ratio (never failed on).
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// acmeproof's operations per second ≥ this × the peer's.
    RateAtLeast(f64, &'static str),
    /// acmeproof's CPU per operation ≤ this × the peer's.
    CpuRatioAtMost(f64, &'static str),
}

/// The last tenth of a long run may be this much slower than the first and still be flat.
const FLAT_PERCENT: f64 = 10.0;

/// A figure within this fraction of the null server's is the generator's, not the server's.
const GENERATOR_BOUND: f64 = 0.8;

/// The figures of one workload.
#[derive(Debug)]
pub struct WorkloadReport {
    pub key: &'static str,
    pub title: String,
    pub unit: &'static str,
    pub peer: &'static str,
    pub target: Target,
    pub null: Option<Measured>,
    pub null_note: Option<String>,
    pub ours: Vec<Measured>,
    pub theirs: Vec<Measured>,
    pub peer_skipped: Option<String>,
}

/// The median of `values` (0 for none).
fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// (max − min) / median, in per cent.
fn spread(values: &[f64]) -> f64 {
    let m = median(values);
    if m == 0.0 {
        return 0.0;
    }
    let max = values.iter().copied().fold(f64::MIN, f64::max);
    let min = values.iter().copied().fold(f64::MAX, f64::min);
    (max - min) / m * 100.0
}

/// Medians of one side.
#[derive(Debug, Clone, Copy, Default)]
struct Summary {
    rate: f64,
    spread: f64,
    cpu_ms: f64,
    generator_cpu_ms: f64,
    first_tenth: Option<f64>,
    last_tenth: Option<f64>,
}

fn summarize(runs: &[Measured]) -> Option<Summary> {
    if runs.is_empty() {
        return None;
    }
    let rates: Vec<f64> = runs.iter().map(Measured::rate).collect();
    let tenth = |f: fn(&Measured) -> Option<f64>| {
        let v: Vec<f64> = runs.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| median(&v))
    };
    Some(Summary {
        rate: median(&rates),
        spread: spread(&rates),
        cpu_ms: median(&runs.iter().map(Measured::cpu_per_op_ms).collect::<Vec<_>>()),
        generator_cpu_ms: median(
            &runs
                .iter()
                .map(Measured::generator_cpu_per_op_ms)
                .collect::<Vec<_>>(),
        ),
        first_tenth: tenth(|m| m.first_tenth),
        last_tenth: tenth(|m| m.last_tenth),
    })
}

impl WorkloadReport {
    pub fn new(
        key: &'static str,
        title: String,
        unit: &'static str,
        peer: &'static str,
        target: Target,
    ) -> Self {
        WorkloadReport {
            key,
            title,
            unit,
            peer,
            target,
            null: None,
            null_note: None,
            ours: Vec::new(),
            theirs: Vec::new(),
            peer_skipped: None,
        }
    }

    fn name(&self, side: Side) -> &str {
        match side {
            Side::Ours => "acmeproof",
            Side::Peer => self.peer,
        }
    }

    /// Records the null server's run and says it.
    pub fn set_null(&mut self, m: Measured, progress: &mut dyn FnMut(String)) {
        progress(format!(
            "null server (the generator's ceiling): {:.0} {}/s",
            m.rate(),
            self.unit
        ));
        self.null = Some(m);
    }

    /// Records one round of `side` and says it.
    pub fn push(&mut self, side: Side, m: Measured, progress: &mut dyn FnMut(String)) {
        let round = match side {
            Side::Ours => self.ours.len() + 1,
            Side::Peer => self.theirs.len() + 1,
        };
        progress(format!(
            "round {round}, {}: {:.0} {}/s, server CPU {:.3} ms per operation{}{}",
            self.name(side),
            m.rate(),
            self.unit,
            m.cpu_per_op_ms(),
            tenths(m.first_tenth, m.last_tenth),
            match (m.failed, &m.first_failure) {
                (0, _) => String::new(),
                (n, Some(why)) => format!("; {n} failed, the first: {why}"),
                (n, None) => format!("; {n} failed"),
            },
        ));
        match side {
            Side::Ours => self.ours.push(m),
            Side::Peer => self.theirs.push(m),
        }
    }

    fn bound(&self, rate: f64) -> &'static str {
        match &self.null {
            Some(null) if rate >= GENERATOR_BOUND * null.rate() => {
                " — generator-bound (within 20 % of the null server)"
            }
            _ => "",
        }
    }

    /// Prints the summary: medians, ratios, the target.
    pub fn print(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "{} — summary", self.title)?;
        match (&self.null, &self.null_note) {
            (Some(null), _) => writeln!(
                out,
                "  generator ceiling (null server): {:.0} {}/s",
                null.rate(),
                self.unit
            )?,
            (None, Some(note)) => writeln!(out, "  generator ceiling: not measured, {note}")?,
            _ => {}
        }
        let ours = summarize(&self.ours);
        let theirs = summarize(&self.theirs);
        for (side, s) in [(Side::Ours, ours), (Side::Peer, theirs)] {
            if let Some(s) = s {
                writeln!(
                    out,
                    "  {:<30} {:>10.0} {}/s (median; spread {:.1} %), server CPU {:.3} ms per \
                     operation (generator {:.3}){}{}",
                    self.name(side),
                    s.rate,
                    self.unit,
                    s.spread,
                    s.cpu_ms,
                    s.generator_cpu_ms,
                    tenths(s.first_tenth, s.last_tenth),
                    self.bound(s.rate),
                )?;
            }
        }
        if let Some(why) = &self.peer_skipped {
            writeln!(out, "  {}: {why}", self.peer)?;
        }
        if let (Some(o), Some(t)) = (ours, theirs) {
            let rate_ratio = o.rate / t.rate.max(1e-9);
            let cpu_ratio = o.cpu_ms / t.cpu_ms.max(1e-9);
            writeln!(
                out,
                "  acmeproof / {}: {:.2}× operations per second; CPU per operation {:.3} / {:.3} \
                 ms = {:.2}",
                self.peer, rate_ratio, o.cpu_ms, t.cpu_ms, cpu_ratio
            )?;
            let (met, shown) = match self.target {
                Target::RateAtLeast(x, label) => (rate_ratio >= x, (label, rate_ratio, "×")),
                Target::CpuRatioAtMost(x, label) => (cpu_ratio <= x, (label, cpu_ratio, "")),
            };
            writeln!(
                out,
                "  target: {}: {:.2}{} {}",
                shown.0,
                shown.1,
                shown.2,
                if met { "✓" } else { "✗" }
            )?;
        }
        if let Some(Summary {
            first_tenth: Some(first),
            last_tenth: Some(last),
            ..
        }) = ours
        {
            let change = (last - first) / first.max(1e-9) * 100.0;
            writeln!(
                out,
                "  flatness, acmeproof: the last tenth {change:+.1} % against the first (target: \
                 within {FLAT_PERCENT:.0} %) {}",
                if change >= -FLAT_PERCENT {
                    "✓"
                } else {
                    "✗"
                }
            )?;
        }
        Ok(())
    }

    pub fn json(&self) -> Value {
        let side = |runs: &[Measured]| -> Value {
            let rounds: Vec<Value> = runs
                .iter()
                .map(|m| {
                    json!({
                        "ops": m.ops,
                        "seconds": m.elapsed.as_secs_f64(),
                        "ops_per_second": m.rate(),
                        "server_cpu_ms_per_op": m.cpu_per_op_ms(),
                        "generator_cpu_ms_per_op": m.generator_cpu_per_op_ms(),
                        "first_tenth_per_second": m.first_tenth,
                        "last_tenth_per_second": m.last_tenth,
                        "resent": m.resent,
                        "failed": m.failed,
                    })
                })
                .collect();
            match summarize(runs) {
                Some(s) => json!({
                    "median_ops_per_second": s.rate,
                    "spread_percent": s.spread,
                    "median_server_cpu_ms_per_op": s.cpu_ms,
                    "median_generator_cpu_ms_per_op": s.generator_cpu_ms,
                    "rounds": rounds,
                }),
                None => Value::Null,
            }
        };
        json!({
            "workload": self.key,
            "title": self.title,
            "unit": self.unit,
            "peer": self.peer,
            "null_ops_per_second": self.null.as_ref().map(Measured::rate),
            "acmeproof": side(&self.ours),
            "peer_figures": side(&self.theirs),
            "peer_skipped": self.peer_skipped,
        })
    }
}

fn tenths(first: Option<f64>, last: Option<f64>) -> String {
    match (first, last) {
        (Some(f), Some(l)) => format!(
            "; first tenth {f:.0}/s, last tenth {l:.0}/s ({:+.1} %)",
            (l - f) / f.max(1e-9) * 100.0
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread_of_odd_even_and_empty() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
        assert_eq!(spread(&[90.0, 100.0, 110.0]), 20.0);
        assert_eq!(spread(&[5.0]), 0.0);
    }
}
