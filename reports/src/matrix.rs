//! The interop matrix of `acmeproof matrix`: scenarios run over every client × CA pair, the
//! reference implementations' open-issue variants and real clients and servers alike. Rows are
//! clients, columns CAs; a cell says whether the pair interoperates, and where it does not,
//! the requirement of the check that fired, the problem type and one line of detail. Rendered
//! as Markdown (for a working-group slide, a PR or `docs/interop.md`), self-contained HTML
//! (each cell drills down to its transcript) and JSON.

use serde::{Deserialize, Serialize};

use crate::html::esc;
use crate::markdown::inline;
use crate::model::Outcome;

/// Version of the matrix JSON. 2: verdicts, the reason of each failing run, transcripts,
/// unimplemented cells, and each variant's draft text and limits.
pub const MATRIX_SCHEMA_VERSION: u32 = 2;

/// One open-issue variant of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixVariant {
    /// Its name, e.g. `token_join`.
    pub name: String,
    /// The question it answers.
    pub question: String,
    /// Where the texts leave it open.
    pub source: String,
    /// The text the question comes from, quoted.
    #[serde(default)]
    pub draft_text: String,
    /// What the matrix shows.
    #[serde(default)]
    pub shows: String,
    /// What the matrix cannot show.
    #[serde(default)]
    pub cannot_show: String,
}

/// What one scenario run says about a client × CA pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The scenario expects a certificate and got one.
    Interop,
    /// The scenario expects a refusal and got it.
    RefusedAsExpected,
    /// The scenario expects a refusal and a certificate was issued.
    IssuedExpectedRefusal,
    /// The pair did not do what the scenario expects.
    Fail,
    /// The pair cannot meet (a capability one side lacks); see the reason.
    Unimplemented,
    /// Not run against this pair.
    Skipped,
    /// The harness itself broke: nothing is known about the pair.
    Error,
}

impl Verdict {
    /// Whether the pair did what the scenario expects.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Verdict::Interop | Verdict::RefusedAsExpected | Verdict::Skipped
        )
    }

    /// How a cell names it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Interop => "interoperate",
            Verdict::RefusedAsExpected => "refused as expected",
            Verdict::IssuedExpectedRefusal => "issued (expected refusal)",
            Verdict::Fail => "fail",
            Verdict::Unimplemented => "unimplemented",
            Verdict::Skipped => "skipped",
            Verdict::Error => "harness error",
        }
    }

    fn mark(self) -> &'static str {
        match self {
            Verdict::Interop | Verdict::RefusedAsExpected => "✅",
            Verdict::IssuedExpectedRefusal | Verdict::Fail => "❌",
            Verdict::Unimplemented | Verdict::Skipped => "➖",
            Verdict::Error => "⚠️",
        }
    }

    /// The verdict of a run: its outcome, read against whether the scenario expects a refusal
    /// and whether a certificate was issued.
    pub fn of(outcome: Outcome, expects_refusal: bool, issued: bool) -> Verdict {
        match outcome {
            Outcome::Unimplemented => Verdict::Unimplemented,
            Outcome::Skipped => Verdict::Skipped,
            Outcome::Error => Verdict::Error,
            o if o.is_success() && expects_refusal => Verdict::RefusedAsExpected,
            o if o.is_success() => Verdict::Interop,
            _ if expects_refusal && issued => Verdict::IssuedExpectedRefusal,
            _ => Verdict::Fail,
        }
    }
}

/// Why a run did not do what its scenario expects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Why {
    /// The requirement of the check that fired: a finding's, or the one a CA's problem
    /// document named (`violates`). `None` when no check named one (a CA's policy refusal).
    pub req: Option<String>,
    /// The ACME problem type, without its URN prefix, when there was one.
    pub problem: Option<String>,
    /// One line of detail.
    pub detail: String,
    /// The other requirements the run's findings name, in order, each once.
    #[serde(default)]
    pub also: Vec<String>,
}

/// One scenario's run in one cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixRun {
    /// The scenario id.
    pub scenario: String,
    /// Its outcome.
    pub outcome: Outcome,
    /// What it says about the pair.
    pub verdict: Verdict,
    /// Whether the scenario expects a refusal.
    #[serde(default)]
    pub expects_refusal: bool,
    /// `REQ: observed` for each finding (empty on a pass).
    pub findings: Vec<String>,
    /// Why the run did not do what the scenario expects (`None` when it did).
    #[serde(default)]
    pub why: Option<Why>,
    /// The wire, one entry per line or exchange (`→` client to server, `←` back).
    #[serde(default)]
    pub transcript: Vec<String>,
}

/// One cell: a client against a CA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixCell {
    /// The client values, one per variant, in variant order (or the external client's name).
    pub client: Vec<String>,
    /// The CA values, one per variant (or the external server's name).
    pub ca: Vec<String>,
    /// Every scenario's run.
    pub runs: Vec<MatrixRun>,
    /// Set when the pair cannot meet at all: why.
    #[serde(default)]
    pub unimplemented: Option<String>,
}

impl MatrixCell {
    /// Whether every scenario did what it expects.
    pub fn ok(&self) -> bool {
        self.unimplemented.is_none() && self.runs.iter().all(|r| r.verdict.is_success())
    }

    /// The cell's verdict: the worst of its runs'.
    pub fn verdict(&self) -> Verdict {
        if self.unimplemented.is_some() {
            return Verdict::Unimplemented;
        }
        // A failure outweighs everything; a pair that met in some scenario outweighs one
        // that could not meet in another.
        const WORST_FIRST: [Verdict; 7] = [
            Verdict::Error,
            Verdict::IssuedExpectedRefusal,
            Verdict::Fail,
            Verdict::RefusedAsExpected,
            Verdict::Interop,
            Verdict::Unimplemented,
            Verdict::Skipped,
        ];
        WORST_FIRST
            .into_iter()
            .find(|v| self.runs.iter().any(|r| r.verdict == *v))
            .unwrap_or(Verdict::Skipped)
    }
}

/// The whole matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matrix {
    /// Always [`MATRIX_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// A title (`None`: named after the variants).
    #[serde(default)]
    pub title: Option<String>,
    /// The variants, in order.
    pub variants: Vec<MatrixVariant>,
    /// The row labels (client combinations, then external clients), in order.
    pub clients: Vec<Vec<String>>,
    /// The column labels (CA combinations, then external servers), in order.
    pub cas: Vec<Vec<String>>,
    /// The scenarios run in every cell.
    pub scenarios: Vec<String>,
    /// The cells, row by row.
    pub cells: Vec<MatrixCell>,
    /// Wall-clock length of the whole matrix.
    pub duration_ms: u64,
}

impl Matrix {
    /// The cell of `client` × `ca`.
    pub fn cell(&self, client: &[String], ca: &[String]) -> Option<&MatrixCell> {
        self.cells.iter().find(|c| c.client == client && c.ca == ca)
    }

    fn title(&self) -> String {
        self.title.clone().unwrap_or_else(|| {
            let names: Vec<&str> = self.variants.iter().map(|v| v.name.as_str()).collect();
            format!("Interop matrix: {}", names.join(" × "))
        })
    }

    fn expects_refusal(&self) -> bool {
        self.cells
            .iter()
            .flat_map(|c| &c.runs)
            .any(|r| r.expects_refusal)
    }
}

fn label(values: &[String]) -> String {
    values.join(" · ")
}

/// The one line of a run that did not do what its scenario expects: `scenario: verdict
/// [REQ] problem: detail`, at most `limit` characters.
fn run_line(run: &MatrixRun, limit: usize) -> String {
    // A failing cell's head says "fail" already.
    let mut text = match run.verdict {
        Verdict::Fail => run.scenario.clone(),
        other => format!("{}: {}", run.scenario, other.label()),
    };
    match &run.why {
        // Not meeting is no rule's failure: the reason alone.
        Some(why)
            if matches!(
                run.verdict,
                Verdict::Unimplemented | Verdict::Skipped | Verdict::Error
            ) =>
        {
            text.push_str(&format!(": {}", why.detail));
        }
        Some(why) => {
            text.push_str(&format!(
                " [{}]",
                why.req.as_deref().unwrap_or("no rule named: a policy")
            ));
            if let Some(problem) = &why.problem {
                text.push_str(&format!(" {problem}"));
            }
            text.push_str(&format!(": {}", why.detail));
            if !why.also.is_empty() {
                text.push_str(&format!(" (also {})", why.also.join(", ")));
            }
        }
        None => {
            if let Some(first) = run.findings.first() {
                text.push_str(&format!(": {first}"));
            }
        }
    }
    if text.chars().count() > limit {
        text = text.chars().take(limit).collect::<String>() + "…";
    }
    text
}

/// The head of a cell: its verdict and how many runs. Runs that did not meet (unimplemented)
/// or did not apply (not run) are counted apart from those that ran.
fn head(cell: &MatrixCell) -> String {
    let verdict = cell.verdict();
    if let Some(reason) = &cell.unimplemented {
        return format!("{} unimplemented: {reason}", verdict.mark());
    }
    let count = |v: Verdict| cell.runs.iter().filter(|r| r.verdict == v).count();
    let total = cell.runs.len();
    let (unimplemented, skipped) = (count(Verdict::Unimplemented), count(Verdict::Skipped));
    if skipped == total {
        let why = cell
            .runs
            .iter()
            .find_map(|r| r.why.as_ref())
            .map(|w| format!(": {}", w.detail))
            .unwrap_or_default();
        return format!("{} not run{why}", verdict.mark());
    }
    let ran = total - unimplemented - skipped;
    let refused = count(Verdict::RefusedAsExpected);
    let bad = ran - count(Verdict::Interop) - refused;
    let mut text = if bad > 0 {
        format!("{} {}: {bad}/{ran}", verdict.mark(), verdict.label())
    } else if ran == 0 {
        format!("{} unimplemented: {unimplemented}/{total}", verdict.mark())
    } else if refused == ran {
        format!("✅ refused as expected {ran}/{ran}")
    } else if refused > 0 {
        format!("✅ {ran}/{ran} ({refused} refused as expected)")
    } else {
        format!("✅ {ran}/{ran}")
    };
    if ran > 0 && unimplemented > 0 {
        text.push_str(&format!(" (+{unimplemented} unimplemented)"));
    }
    if skipped > 0 {
        text.push_str(&format!(" (+{skipped} not run)"));
    }
    text
}

/// The class of a cell in the HTML.
fn class(cell: &MatrixCell) -> &'static str {
    let bad = cell.runs.iter().any(|r| {
        matches!(
            r.verdict,
            Verdict::Fail | Verdict::IssuedExpectedRefusal | Verdict::Error
        )
    });
    let met = cell
        .runs
        .iter()
        .any(|r| matches!(r.verdict, Verdict::Interop | Verdict::RefusedAsExpected));
    if cell.unimplemented.is_some() {
        "none"
    } else if bad {
        "fail"
    } else if met {
        "ok"
    } else {
        "none"
    }
}

/// The legend under every table.
const LEGEND: &[(&str, &str)] = &[
    (
        "✅ n/n",
        "every scenario did what it expects: the pair interoperates",
    ),
    (
        "✅ refused as expected",
        "the scenario expects a refusal (it tests that a CA says no) and the CA refused",
    ),
    (
        "❌ issued (expected refusal)",
        "the scenario expects a refusal and a certificate was issued",
    ),
    (
        "❌ fail",
        "the pair did not do what the scenario expects; each run names [the requirement of the check that fired], the ACME problem type and one line of detail; \"no rule named: a policy\" is a refusal no requirement makes (a CA's choice)",
    ),
    (
        "➖ unimplemented",
        "the client and the server cannot meet (a capability one lacks), with the reason",
    ),
    (
        "➖ not run",
        "the scenario does not apply to this pair (e.g. an RFC 8555 scenario and a client that is driven only through RFC 8823 issuance), with the reason",
    ),
    (
        "⚠️ harness error",
        "the harness itself broke: nothing is known about the pair",
    ),
];

/// Markdown: a title, each variant's page, the table, the legend.
pub fn render_markdown(m: &Matrix) -> String {
    let mut out = format!("### {}\n\n", m.title());
    for v in &m.variants {
        out.push_str(&format!(
            "- **{}**: {} ({})\n",
            inline(&v.name),
            inline(&v.question),
            inline(&v.source)
        ));
        for (what, text) in [
            ("The text", &v.draft_text),
            ("What the matrix shows", &v.shows),
            ("What it cannot show", &v.cannot_show),
        ] {
            if !text.is_empty() {
                out.push_str(&format!("  - *{what}*: {}\n", inline(text)));
            }
        }
    }
    out.push_str(&format!(
        "\nRows: the clients; columns: the CAs. Each cell runs {} scenario(s): {}.{}\n\n",
        m.scenarios.len(),
        m.scenarios
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", "),
        if m.expects_refusal() {
            " Some scenarios expect a refusal: their cells read \"refused as expected\" when the CA refused, and \"issued (expected refusal)\" when it did not."
        } else {
            ""
        }
    ));
    out.push_str("| client \\\\ CA |");
    for ca in &m.cas {
        out.push_str(&format!(" {} |", inline(&label(ca))));
    }
    out.push_str("\n|---|");
    out.push_str(&"---|".repeat(m.cas.len()));
    out.push('\n');
    for client in &m.clients {
        out.push_str(&format!("| **{}** |", inline(&label(client))));
        for ca in &m.cas {
            let text = match m.cell(client, ca) {
                None => "—".to_owned(),
                Some(cell) => {
                    let mut text = inline(&head(cell));
                    for run in cell.runs.iter().filter(|r| !r.verdict.is_success()) {
                        text.push_str("<br>");
                        text.push_str(&inline(&run_line(run, 240)));
                    }
                    text
                }
            };
            out.push_str(&format!(" {text} |"));
        }
        out.push('\n');
    }
    out.push('\n');
    for (mark, meaning) in LEGEND {
        out.push_str(&format!("- {}: {}\n", inline(mark), inline(meaning)));
    }
    out
}

/// One self-contained HTML page (no network): each variant's page, the table, and for every
/// run an anchor with its findings and transcript that the cell links to.
pub fn render_html(m: &Matrix) -> String {
    let title = format!("acmeproof {}", m.title());
    let mut out = html_head(&title);
    out.push_str(&format!("<h1>{}</h1>\n", esc(&title)));
    html_body(m, "run", 2, &mut out);
    out.push_str("</body></html>\n");
    out
}

/// Several matrices on one Markdown page: `intro` (Markdown), then each matrix.
pub fn render_page_markdown(intro: &str, matrices: &[Matrix]) -> String {
    let mut out = intro.to_owned();
    for m in matrices {
        out.push('\n');
        out.push_str(&render_markdown(m));
    }
    out
}

/// Several matrices on one self-contained HTML page: `title`, `intro` (plain text), each
/// matrix with anchors of its own.
pub fn render_page_html(title: &str, intro: &str, matrices: &[Matrix]) -> String {
    let mut out = html_head(title);
    out.push_str(&format!("<h1>{}</h1>\n", esc(title)));
    for paragraph in intro.split("\n\n").filter(|p| !p.trim().is_empty()) {
        out.push_str(&format!("<p>{}</p>\n", esc(paragraph.trim())));
    }
    for (i, m) in matrices.iter().enumerate() {
        out.push_str(&format!("<h2>{}</h2>\n", esc(&m.title())));
        html_body(m, &format!("m{}-run", i + 1), 3, &mut out);
    }
    out.push_str("</body></html>\n");
    out
}

fn html_head(title: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #999;padding:.4em .6em;vertical-align:top}}\
         td.ok{{background:#d9f2d9}}td.fail{{background:#f8d7d7}}td.none{{background:#eee}}th.row{{text-align:left}}\
         details,div.why{{font-size:.85em}}div.why{{max-width:28em}}code{{font-size:.9em}}\
         pre{{white-space:pre-wrap;font-size:.8em;background:#f6f6f6;padding:.5em}}</style></head><body>\n",
        esc(title)
    )
}

/// The variants, the table, the legend and the runs of `m`; run anchors are `{prefix}-N`,
/// run headings at level `level`.
fn html_body(m: &Matrix, prefix: &str, level: u8, out: &mut String) {
    out.push_str("<ul>\n");
    for v in &m.variants {
        out.push_str(&format!(
            "<li><b>{}</b>: {} <i>({})</i>",
            esc(&v.name),
            esc(&v.question),
            esc(&v.source)
        ));
        for (what, text) in [
            ("The text", &v.draft_text),
            ("What the matrix shows", &v.shows),
            ("What it cannot show", &v.cannot_show),
        ] {
            if !text.is_empty() {
                out.push_str(&format!("<br><i>{what}</i>: {}", esc(text)));
            }
        }
        out.push_str("</li>\n");
    }
    // One page may hold several matrices: each table's id is its own.
    let table_id = prefix
        .strip_suffix("-run")
        .map(|p| format!("{p}-matrix"))
        .unwrap_or_else(|| "matrix".to_owned());
    out.push_str(&format!(
        "</ul>\n<p>Rows: the clients; columns: the CAs. Each cell runs {} scenario(s); click a \
         run for its findings and transcript.</p>\n<table id=\"{table_id}\"><thead><tr><th>client \\ CA</th>",
        m.scenarios.len()
    ));
    for ca in &m.cas {
        out.push_str(&format!("<th>{}</th>", esc(&label(ca))));
    }
    out.push_str("</tr></thead><tbody>\n");
    let mut anchors = Vec::new();
    for client in &m.clients {
        out.push_str(&format!(
            "<tr><th class=\"row\">{}</th>",
            esc(&label(client))
        ));
        for ca in &m.cas {
            let Some(cell) = m.cell(client, ca) else {
                out.push_str("<td>—</td>");
                continue;
            };
            let class = class(cell);
            // Words, not emoji, in the head: a headless browser or a printer may have no emoji
            // font.
            let head = head(cell)
                .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
                .to_owned();
            out.push_str(&format!("<td class=\"{class}\"><b>{}</b>", esc(&head)));
            for run in &cell.runs {
                let anchor = format!("{prefix}-{}", anchors.len() + 1);
                let line = if run.verdict.is_success() {
                    format!("{}: {}", run.scenario, run.verdict.label())
                } else {
                    run_line(run, 240)
                };
                out.push_str(&format!(
                    "<div class=\"why\"><a href=\"#{anchor}\">{}</a></div>",
                    esc(&line)
                ));
                anchors.push((anchor, cell, run));
            }
            out.push_str("</td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n<ul>\n");
    for (mark, meaning) in LEGEND {
        out.push_str(&format!(
            "<li><b>{}</b>: {}</li>\n",
            esc(mark.trim_start_matches(|c: char| !c.is_ascii_alphanumeric())),
            esc(meaning)
        ));
    }
    out.push_str(&format!("</ul>\n<h{level}>Runs</h{level}>\n"));
    let sub = level + 1;
    for (anchor, cell, run) in anchors {
        out.push_str(&format!(
            "<section id=\"{anchor}\"><h{sub}>{} × {}: <code>{}</code> {}</h{sub}>",
            esc(&label(&cell.client)),
            esc(&label(&cell.ca)),
            esc(&run.scenario),
            esc(run.verdict.label())
        ));
        if !run.findings.is_empty() {
            out.push_str("<ul>");
            for f in &run.findings {
                out.push_str(&format!("<li>{}</li>", esc(f)));
            }
            out.push_str("</ul>");
        }
        out.push_str(&format!(
            "<details><summary>transcript ({} entries)</summary><pre>",
            run.transcript.len()
        ));
        for line in &run.transcript {
            out.push_str(&esc(line));
            out.push('\n');
        }
        out.push_str("</pre></details></section>\n");
    }
}

/// JSON (versioned).
pub fn render_json(m: &Matrix) -> String {
    serde_json::to_string_pretty(m).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(outcome: Outcome, expects_refusal: bool, issued: bool, findings: &[&str]) -> MatrixRun {
        MatrixRun {
            scenario: "rfc8823/3/x".into(),
            outcome,
            verdict: Verdict::of(outcome, expects_refusal, issued),
            expects_refusal,
            findings: findings.iter().map(|f| (*f).to_owned()).collect(),
            why: (!outcome.is_success()).then(|| Why {
                req: Some("SMIME-10".into()),
                problem: Some("incorrectResponse".into()),
                detail: "digest <b>|x".into(),
                also: Vec::new(),
            }),
            transcript: vec!["→ POST /chall/1".into(), "← 200".into()],
        }
    }

    fn matrix(expects_refusal: bool) -> Matrix {
        let v = |s: &str| vec![s.to_owned()];
        let ok = || {
            if expects_refusal {
                run(Outcome::Pass, true, false, &[])
            } else {
                run(Outcome::Pass, false, true, &[])
            }
        };
        let bad = || {
            if expects_refusal {
                run(
                    Outcome::Fail,
                    true,
                    true,
                    &["SMIME-10: a certificate was issued"],
                )
            } else {
                run(Outcome::Fail, false, false, &["SMIME-10: digest <b>|x"])
            }
        };
        Matrix {
            schema_version: MATRIX_SCHEMA_VERSION,
            title: None,
            variants: vec![MatrixVariant {
                name: "token_join".into(),
                question: "string or binary?".into(),
                source: "RFC 8823 §3".into(),
                draft_text: "concatenates".into(),
                shows: "where the joins coincide".into(),
                cannot_show: "deployed joins".into(),
            }],
            clients: vec![v("string"), v("binary")],
            cas: vec![v("string"), v("either"), v("peer")],
            scenarios: vec!["rfc8823/3/x".into()],
            cells: vec![
                MatrixCell {
                    client: v("string"),
                    ca: v("string"),
                    runs: vec![ok()],
                    unimplemented: None,
                },
                MatrixCell {
                    client: v("string"),
                    ca: v("either"),
                    runs: vec![ok()],
                    unimplemented: None,
                },
                MatrixCell {
                    client: v("binary"),
                    ca: v("string"),
                    runs: vec![bad()],
                    unimplemented: None,
                },
                MatrixCell {
                    client: v("binary"),
                    ca: v("either"),
                    runs: vec![ok()],
                    unimplemented: None,
                },
                MatrixCell {
                    client: v("binary"),
                    ca: v("peer"),
                    runs: Vec::new(),
                    unimplemented: Some("the server offers no email-reply-00".into()),
                },
            ],
            duration_ms: 5,
        }
    }

    #[test]
    fn markdown_shows_passes_and_the_failing_reason_escaped() {
        let md = render_markdown(&matrix(false));
        assert!(md.contains("| **string** | ✅ 1/1 | ✅ 1/1 | — |"), "{md}");
        assert!(
            md.contains("| **binary** | ❌ fail: 1/1<br>rfc8823/3/x \\[SMIME-10\\] incorrectResponse: digest &lt;b&gt;\\|x | ✅ 1/1 | ➖ unimplemented: the server offers no email-reply-00 |"),
            "{md}"
        );
        assert!(md.contains("*The text*: concatenates"), "{md}");
        assert!(md.contains("*What it cannot show*: deployed joins"), "{md}");
        assert!(!md.contains("refused as expected 1/1"), "{md}");
    }

    #[test]
    fn a_refusal_scenario_reads_refused_as_expected_and_issued_not_inverted() {
        let md = render_markdown(&matrix(true));
        assert!(
            md.contains("| **string** | ✅ refused as expected 1/1 | ✅ refused as expected 1/1 |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| **binary** | ❌ issued (expected refusal): 1/1<br>rfc8823/3/x: issued (expected refusal)"
            ),
            "{md}"
        );
        assert!(md.contains("Some scenarios expect a refusal"), "{md}");
        assert!(md.contains("- ✅ refused as expected: the scenario expects a refusal"));
        assert!(md.contains("- ❌ issued (expected refusal): "));
    }

    #[test]
    fn verdicts_read_the_outcome_against_the_expectation() {
        assert_eq!(Verdict::of(Outcome::Pass, false, true), Verdict::Interop);
        assert_eq!(
            Verdict::of(Outcome::Pass, true, false),
            Verdict::RefusedAsExpected
        );
        assert_eq!(
            Verdict::of(Outcome::Fail, true, true),
            Verdict::IssuedExpectedRefusal
        );
        assert_eq!(Verdict::of(Outcome::Fail, true, false), Verdict::Fail);
        assert_eq!(Verdict::of(Outcome::Fail, false, false), Verdict::Fail);
        assert_eq!(
            Verdict::of(Outcome::Unimplemented, false, false),
            Verdict::Unimplemented
        );
    }

    #[test]
    fn html_is_self_contained_escaped_and_drills_down_to_transcripts() {
        let html = render_html(&matrix(false));
        assert!(html.contains("<td class=\"fail\">"));
        assert!(html.contains("digest &lt;b&gt;|x"));
        assert!(!html.contains("<b>|x"));
        assert!(!html.contains("http://") && !html.contains("https://"));
        assert!(html.contains("<a href=\"#run-3\">"), "{html}");
        assert!(html.contains("<section id=\"run-3\">"), "{html}");
        assert!(html.contains("→ POST /chall/1"));
    }

    #[test]
    fn json_round_trips() {
        let m = matrix(false);
        let back: Matrix = serde_json::from_str(&render_json(&m)).unwrap();
        assert_eq!(back, m);
        assert!(
            back.cell(&["binary".into()], &["string".into()])
                .is_some_and(|c| !c.ok())
        );
    }
}
