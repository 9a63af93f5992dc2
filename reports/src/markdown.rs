//! A short Markdown summary for pull-request comments: the gate and the headline, the
//! scenarios a CI gate rejects (failures first), the ones that passed with findings, a count of
//! the rest, and the findings in a collapsed `<details>` block.
//!
//! The text never exceeds [`MAX_LEN`] bytes, whatever the run, so it always fits in one GitHub
//! comment (65,536 characters); what does not fit is counted and left to `report.json`.
//!
//! Everything that came from the system under test is escaped, so wire text can neither break
//! the table nor inject markup.

use crate::model::{Outcome, RunReport, ScenarioResult};

/// How many finding ids a table row lists before `…`.
const IDS_PER_ROW: usize = 3;

/// The most bytes (so also characters) a summary has.
pub const MAX_LEN: usize = 60_000;

/// Room kept free for the lines that close the summary (the "not shown" count, `</details>`).
const TAIL_ROOM: usize = 400;

/// The longest a single table cell or finding line is, in characters, before `…`.
const MAX_CELL: usize = 600;

/// The report as Markdown, at most [`MAX_LEN`] bytes.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let gate = report.gate();
    let icon = match gate {
        crate::model::Gate::Accepted => "✅",
        crate::model::Gate::Rejected => "❌",
        crate::model::Gate::HarnessError => "💥",
    };
    out.push_str(&format!(
        "### acmeproof: {} — {icon} {} (exit {})\n\n",
        clip(&inline(&report.implementation)),
        gate.as_str(),
        gate.exit_code()
    ));
    out.push_str(&format!(
        "**{} scenarios:** {} · {} ms{}{}{}\n\n",
        report.summary.total,
        report.summary.headline(),
        report.duration_ms,
        if report.strict { " · strict" } else { "" },
        report
            .partition
            .as_deref()
            .map(|p| format!(" · partition {}", code(p)))
            .unwrap_or_default(),
        report
            .waiver_file
            .as_deref()
            .map(|w| format!(" · waivers: `{}`", clip(&code(w))))
            .unwrap_or_default(),
    ));

    // Failures first (harness errors, failures, stale waivers, missing features), then the
    // scenarios that passed with something to say; each group in run order.
    let mut failing: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|s| !s.outcome.is_success())
        .collect();
    failing.sort_by_key(|s| failure_rank(s.outcome));
    let noted: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|s| {
            matches!(
                s.outcome,
                Outcome::PassNonStrict | Outcome::Informational | Outcome::Xfail
            )
        })
        .collect();

    let budget = MAX_LEN - TAIL_ROOM;
    let mut shown: Vec<&ScenarioResult> = Vec::new();
    if failing.is_empty() {
        out.push_str("No scenario failed.\n\n");
    } else {
        table(&mut out, "Failures", &failing, budget, &mut shown);
    }
    if !noted.is_empty() {
        table(
            &mut out,
            "Accepted with findings or a waiver",
            &noted,
            budget,
            &mut shown,
        );
    }
    out.push_str(&rest_line(report));

    let with_details: Vec<&ScenarioResult> = shown
        .iter()
        .copied()
        .filter(|s| !s.findings.is_empty() || s.error.is_some() || s.waiver.is_some())
        .collect();
    let mut detailed = 0;
    if !with_details.is_empty() {
        out.push_str("\n<details><summary>Findings</summary>\n\n");
        for s in &with_details {
            let block = details(s);
            if out.len() + block.len() > budget {
                break;
            }
            out.push_str(&block);
            detailed += 1;
        }
        if detailed < with_details.len() {
            out.push_str(&format!(
                "_{} more scenarios with findings are in `report.json`._\n\n",
                with_details.len() - detailed
            ));
        }
        out.push_str("</details>\n");
    }
    out
}

/// A table of `scenarios` under `title`, row by row while under `budget` bytes; then a line
/// counting the rows left out. The rows written go to `shown`.
fn table<'a>(
    out: &mut String,
    title: &str,
    scenarios: &[&'a ScenarioResult],
    budget: usize,
    shown: &mut Vec<&'a ScenarioResult>,
) {
    let head = format!(
        "**{title} ({})**\n\n| scenario | outcome | findings |\n|---|---|---|\n",
        scenarios.len()
    );
    if out.len() + head.len() > budget {
        out.push_str(&format!(
            "_{title}: {} scenarios, not shown (see `report.json`)._\n\n",
            scenarios.len()
        ));
        return;
    }
    out.push_str(&head);
    let mut written = 0;
    for s in scenarios {
        let row = row(s);
        if out.len() + row.len() > budget {
            break;
        }
        out.push_str(&row);
        shown.push(s);
        written += 1;
    }
    if written < scenarios.len() {
        out.push_str(&format!(
            "\n_… and {} more, not shown (see `report.json`)._\n",
            scenarios.len() - written
        ));
    }
    out.push('\n');
}

/// One table row: id, outcome, the first finding ids, the waiver and the error.
fn row(s: &ScenarioResult) -> String {
    let mut ids: Vec<String> = s
        .findings
        .iter()
        .take(IDS_PER_ROW)
        .map(|f| format!("{} ({})", inline(&f.req), f.level))
        .collect();
    if s.findings.len() > IDS_PER_ROW {
        ids.push("…".to_owned());
    }
    let mut what = ids.join(", ");
    if let Some(w) = &s.waiver {
        what = join_nonempty(&what, &format!("waiver: {}", inline(w)));
    }
    if let Some(e) = &s.error {
        what = join_nonempty(&what, &inline(e));
    }
    format!(
        "| `{}` | {} {} | {} |\n",
        clip(&code(&s.id)),
        icon(s.outcome),
        s.outcome,
        clip(&what)
    )
}

/// The count of the scenarios in neither table: those that passed plainly and those skipped
/// (every other outcome is in one of the tables).
fn rest_line(report: &RunReport) -> String {
    let (pass, skipped) = (report.summary.pass, report.summary.skipped);
    match (pass, skipped) {
        (0, 0) => String::new(),
        _ => format!(
            "The other {}: {pass} passed, {skipped} skipped.\n",
            pass + skipped
        ),
    }
}

/// One scenario's findings, as a `####` heading and a list.
fn details(s: &ScenarioResult) -> String {
    let mut out = format!(
        "#### `{}` — {}\n\n",
        clip(&code(&s.id)),
        clip(&inline(&s.title))
    );
    out.push_str(&format!("outcome **{}**, seed {}", s.outcome, s.seed));
    if !s.variants.is_empty() {
        let v: Vec<String> = s
            .variants
            .iter()
            .map(|(k, v)| format!("`{}={}`", code(k), code(v)))
            .collect();
        out.push_str(&format!(", variants {}", clip(&v.join(" "))));
    }
    out.push_str("\n\n");
    if let Some(w) = &s.waiver {
        out.push_str(&format!("- waiver: {}\n", clip(&inline(w))));
    }
    if let Some(e) = &s.error {
        out.push_str(&format!("- error: {}\n", clip(&inline(e))));
    }
    for f in &s.findings {
        let line = format!(
            "**{}** {}: expected {}; observed {}",
            inline(&f.req),
            f.level,
            inline(&f.expected),
            inline(&f.observed)
        );
        out.push_str(&format!("- {}\n", clip(&line)));
    }
    out.push('\n');
    out
}

/// Failures in the order a reader wants them: the harness broke, a requirement failed, a waiver
/// went stale, a feature is missing.
fn failure_rank(o: Outcome) -> u8 {
    match o {
        Outcome::Error => 0,
        Outcome::Fail => 1,
        Outcome::Xpass => 2,
        _ => 3,
    }
}

/// At most [`MAX_CELL`] characters of already-escaped text, cut at a character boundary and
/// never inside an escape (`&amp;`, `\|`), ending with `…` when cut.
fn clip(text: &str) -> String {
    if text.chars().count() <= MAX_CELL {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_CELL).collect();
    // Drop a partial entity or a lone escaping backslash at the end.
    if let Some(amp) = cut.rfind('&')
        && !cut[amp..].contains(';')
    {
        cut.truncate(amp);
    }
    let trailing = cut.len() - cut.trim_end_matches('\\').len();
    if trailing % 2 == 1 {
        cut.pop();
    }
    cut.push('…');
    cut
}

fn join_nonempty(a: &str, b: &str) -> String {
    if a.is_empty() {
        b.to_owned()
    } else {
        format!("{a}; {b}")
    }
}

fn icon(o: Outcome) -> &'static str {
    match o {
        Outcome::Pass => "✅",
        Outcome::PassNonStrict | Outcome::Informational => "☑️",
        Outcome::Xfail | Outcome::Skipped => "⏭️",
        Outcome::Unimplemented => "🚧",
        Outcome::Fail | Outcome::Xpass => "❌",
        Outcome::Error => "💥",
    }
}

/// Text for a table cell or list item: one line, HTML-escaped (GitHub renders inline HTML), and
/// with Markdown's punctuation backslash-escaped.
pub(crate) fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' | '\n' | '\t' => out.push(' '),
            '\\' | '|' | '*' | '_' | '`' | '[' | ']' | '#' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

/// Text inside a code span: one line, no backticks (they would end the span) and no `|` (it
/// would end the table cell even inside a code span on GitHub).
fn code(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '`' => '\'',
            '|' => '¦',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_text_cannot_break_out() {
        assert_eq!(inline("a|b\n<script>*x*"), "a\\|b &lt;script&gt;\\*x\\*");
        assert_eq!(code("a`b|c"), "a'b¦c");
    }

    #[test]
    fn clip_cuts_long_text_without_breaking_an_escape() {
        assert_eq!(clip("short"), "short");
        let long = format!("{}&amp;", "x".repeat(MAX_CELL - 2));
        assert_eq!(clip(&long), format!("{}…", "x".repeat(MAX_CELL - 2)));
        let slash = format!("{}\\|", "x".repeat(MAX_CELL - 1));
        assert_eq!(clip(&slash), format!("{}…", "x".repeat(MAX_CELL - 1)));
        assert_eq!(
            clip(&"é".repeat(MAX_CELL + 5)).chars().count(),
            MAX_CELL + 1
        );
    }
}
