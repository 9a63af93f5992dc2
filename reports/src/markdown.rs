//! A short Markdown summary for pull-request comments: a counts line, a table of the scenarios
//! that did not plainly pass, and their findings in a collapsed `<details>` block.
//!
//! Everything that came from the system under test is escaped, so wire text can neither break
//! the table nor inject markup.

use crate::model::{Outcome, RunReport, ScenarioResult};

/// How many finding ids a table row lists before `…`.
const IDS_PER_ROW: usize = 3;

/// The report as Markdown.
pub fn render(report: &RunReport) -> String {
    let mut out = String::new();
    let gate = if report.is_success() {
        "✅ passed"
    } else {
        "❌ failed"
    };
    out.push_str(&format!(
        "### acmeproof: {} — {gate}\n\n",
        inline(&report.implementation)
    ));
    out.push_str(&format!(
        "**{} scenarios:** {} · {} ms{}{}\n\n",
        report.summary.total,
        report.summary.line(),
        report.duration_ms,
        if report.strict { " · strict" } else { "" },
        report
            .waiver_file
            .as_deref()
            .map(|w| format!(" · waivers: `{}`", code(w)))
            .unwrap_or_default(),
    ));

    let notable: Vec<&ScenarioResult> = report
        .scenarios
        .iter()
        .filter(|s| s.outcome != Outcome::Pass)
        .collect();
    if notable.is_empty() {
        out.push_str("Every scenario passed.\n");
        return out;
    }

    out.push_str("| scenario | outcome | findings |\n|---|---|---|\n");
    for s in &notable {
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
        out.push_str(&format!(
            "| `{}` | {} {} | {} |\n",
            code(&s.id),
            icon(s.outcome),
            s.outcome,
            what
        ));
    }

    out.push_str("\n<details><summary>Findings</summary>\n\n");
    for s in &notable {
        out.push_str(&format!(
            "#### `{}` — {}\n\n",
            code(&s.id),
            inline(&s.title)
        ));
        out.push_str(&format!("outcome **{}**, seed {}", s.outcome, s.seed));
        if !s.variants.is_empty() {
            let v: Vec<String> = s
                .variants
                .iter()
                .map(|(k, v)| format!("`{}={}`", code(k), code(v)))
                .collect();
            out.push_str(&format!(", variants {}", v.join(" ")));
        }
        out.push_str("\n\n");
        if let Some(w) = &s.waiver {
            out.push_str(&format!("- waiver: {}\n", inline(w)));
        }
        if let Some(e) = &s.error {
            out.push_str(&format!("- error: {}\n", inline(e)));
        }
        for f in &s.findings {
            out.push_str(&format!(
                "- **{}** {}: expected {}; observed {}\n",
                inline(&f.req),
                f.level,
                inline(&f.expected),
                inline(&f.observed)
            ));
        }
        out.push('\n');
    }
    out.push_str("</details>\n");
    out
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
}
