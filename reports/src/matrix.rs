//! The interop matrix of `acmeproof matrix`: scenarios run over every client-variant ×
//! CA-variant combination. Rows are client values, columns CA values; a cell is a success, or
//! the findings that made it fail. Rendered as Markdown (for a working-group slide or a PR),
//! self-contained HTML, and JSON.

use serde::{Deserialize, Serialize};

use crate::html::esc;
use crate::markdown::inline;
use crate::model::Outcome;

/// Version of the matrix JSON.
pub const MATRIX_SCHEMA_VERSION: u32 = 1;

/// One open-issue variant of the matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixVariant {
    /// Its name, e.g. `token_join`.
    pub name: String,
    /// The question it answers.
    pub question: String,
    /// Where the texts leave it open.
    pub source: String,
}

/// One scenario's run in one cell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixRun {
    /// The scenario id.
    pub scenario: String,
    /// Its outcome.
    pub outcome: Outcome,
    /// `REQ: observed` for each finding (empty on a pass).
    pub findings: Vec<String>,
}

/// One cell: a client combination against a CA combination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MatrixCell {
    /// The client values, one per variant, in variant order.
    pub client: Vec<String>,
    /// The CA values, one per variant.
    pub ca: Vec<String>,
    /// Every scenario's run.
    pub runs: Vec<MatrixRun>,
}

impl MatrixCell {
    /// Whether every scenario succeeded.
    pub fn ok(&self) -> bool {
        self.runs.iter().all(|r| r.outcome.is_success())
    }
}

/// The whole matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Matrix {
    /// Always [`MATRIX_SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The variants, in order.
    pub variants: Vec<MatrixVariant>,
    /// The row labels (client combinations), in order.
    pub clients: Vec<Vec<String>>,
    /// The column labels (CA combinations), in order.
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
}

fn label(values: &[String]) -> String {
    values.join(" · ")
}

/// The first findings of a failing cell, short.
fn failure_text(cell: &MatrixCell, limit: usize) -> Vec<String> {
    let mut out = Vec::new();
    for run in cell.runs.iter().filter(|r| !r.outcome.is_success()) {
        let first = run
            .findings
            .first()
            .cloned()
            .unwrap_or_else(|| run.outcome.as_str().to_owned());
        let mut text = format!("{}: {first}", run.scenario);
        if text.chars().count() > limit {
            text = text.chars().take(limit).collect::<String>() + "…";
        }
        out.push(text);
    }
    out
}

/// Markdown: a title, the question, the table.
pub fn render_markdown(m: &Matrix) -> String {
    let names: Vec<&str> = m.variants.iter().map(|v| v.name.as_str()).collect();
    let mut out = format!("### Interop matrix: {}\n\n", names.join(" × "));
    for v in &m.variants {
        out.push_str(&format!(
            "- **{}**: {} ({})\n",
            inline(&v.name),
            inline(&v.question),
            inline(&v.source)
        ));
    }
    out.push_str(&format!(
        "\nRows: the client's value; columns: the CA's. Each cell runs {} scenario(s): {}.\n\n",
        m.scenarios.len(),
        m.scenarios
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ")
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
                Some(cell) if cell.ok() => format!("✅ {}/{}", cell.runs.len(), cell.runs.len()),
                Some(cell) => {
                    let failing = cell.runs.iter().filter(|r| !r.outcome.is_success()).count();
                    let mut text = format!("❌ {failing}/{} fail", cell.runs.len());
                    for line in failure_text(cell, 240) {
                        text.push_str("<br>");
                        text.push_str(&inline(&line));
                    }
                    text
                }
            };
            out.push_str(&format!(" {text} |"));
        }
        out.push('\n');
    }
    out
}

/// One self-contained HTML page (no network): the table, each cell's runs on a click.
pub fn render_html(m: &Matrix) -> String {
    let names: Vec<&str> = m.variants.iter().map(|v| v.name.as_str()).collect();
    let title = format!("acmeproof interop matrix: {}", names.join(" × "));
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\n\
         <style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #999;padding:.4em .6em;vertical-align:top}}\
         td.ok{{background:#d9f2d9}}td.fail{{background:#f8d7d7}}th.row{{text-align:left}}\
         details,div.why{{font-size:.85em}}div.why{{max-width:28em}}code{{font-size:.9em}}</style></head><body>\n<h1>{}</h1>\n<ul>\n",
        esc(&title),
        esc(&title)
    );
    for v in &m.variants {
        out.push_str(&format!(
            "<li><b>{}</b>: {} <i>({})</i></li>\n",
            esc(&v.name),
            esc(&v.question),
            esc(&v.source)
        ));
    }
    out.push_str(&format!(
        "</ul>\n<p>Rows: the client's value; columns: the CA's. Each cell runs {} scenario(s).</p>\n\
         <table id=\"matrix\"><thead><tr><th>client \\ CA</th>",
        m.scenarios.len()
    ));
    for ca in &m.cas {
        out.push_str(&format!("<th>{}</th>", esc(&label(ca))));
    }
    out.push_str("</tr></thead><tbody>\n");
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
            // Words, not emoji: a headless browser or a printer may have no emoji font.
            let (class, head) = if cell.ok() {
                (
                    "ok",
                    format!("pass {}/{}", cell.runs.len(), cell.runs.len()),
                )
            } else {
                let failing = cell.runs.iter().filter(|r| !r.outcome.is_success()).count();
                ("fail", format!("fail {failing}/{}", cell.runs.len()))
            };
            out.push_str(&format!("<td class=\"{class}\"><b>{}</b>", esc(&head)));
            for line in failure_text(cell, 240) {
                out.push_str(&format!("<div class=\"why\">{}</div>", esc(&line)));
            }
            out.push_str("<details><summary>runs</summary><ul>");
            for run in &cell.runs {
                out.push_str(&format!(
                    "<li><code>{}</code> {}",
                    esc(&run.scenario),
                    esc(run.outcome.as_str())
                ));
                for f in &run.findings {
                    out.push_str(&format!("<br>{}", esc(f)));
                }
                out.push_str("</li>");
            }
            out.push_str("</ul></details></td>");
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody></table>\n</body></html>\n");
    out
}

/// JSON (versioned).
pub fn render_json(m: &Matrix) -> String {
    serde_json::to_string_pretty(m).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix() -> Matrix {
        let v = |s: &str| vec![s.to_owned()];
        let run = |outcome, findings: &[&str]| MatrixRun {
            scenario: "rfc8823/3/x".into(),
            outcome,
            findings: findings.iter().map(|f| (*f).to_owned()).collect(),
        };
        Matrix {
            schema_version: MATRIX_SCHEMA_VERSION,
            variants: vec![MatrixVariant {
                name: "token_join".into(),
                question: "string or binary?".into(),
                source: "RFC 8823 §3".into(),
            }],
            clients: vec![v("string"), v("binary")],
            cas: vec![v("string"), v("either")],
            scenarios: vec!["rfc8823/3/x".into()],
            cells: vec![
                MatrixCell {
                    client: v("string"),
                    ca: v("string"),
                    runs: vec![run(Outcome::Pass, &[])],
                },
                MatrixCell {
                    client: v("string"),
                    ca: v("either"),
                    runs: vec![run(Outcome::Pass, &[])],
                },
                MatrixCell {
                    client: v("binary"),
                    ca: v("string"),
                    runs: vec![run(Outcome::Fail, &["SMIME-10: digest <b>|x"])],
                },
                MatrixCell {
                    client: v("binary"),
                    ca: v("either"),
                    runs: vec![run(Outcome::Pass, &[])],
                },
            ],
            duration_ms: 5,
        }
    }

    #[test]
    fn markdown_shows_passes_and_the_failing_findings_escaped() {
        let md = render_markdown(&matrix());
        assert!(md.contains("| **string** | ✅ 1/1 | ✅ 1/1 |"), "{md}");
        assert!(md.contains("| **binary** | ❌ 1/1 fail<br>rfc8823/3/x: SMIME-10: digest &lt;b&gt;\\|x | ✅ 1/1 |"), "{md}");
    }

    #[test]
    fn html_is_self_contained_and_escaped() {
        let html = render_html(&matrix());
        assert!(html.contains("<td class=\"fail\">"));
        assert!(html.contains("SMIME-10: digest &lt;b&gt;|x"));
        assert!(!html.contains("<b>|x"));
        assert!(!html.contains("http://") && !html.contains("https://"));
    }

    #[test]
    fn json_round_trips() {
        let m = matrix();
        let back: Matrix = serde_json::from_str(&render_json(&m)).unwrap();
        assert_eq!(back, m);
        assert!(
            back.cell(&["binary".into()], &["string".into()])
                .is_some_and(|c| !c.ok())
        );
    }
}
