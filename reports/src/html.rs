//! One self-contained HTML file for one or more runs: inline CSS, a few lines of inline script,
//! no network, no external fonts or scripts.
//!
//! It has three parts:
//! - **matrix**: implementations (one column per [`RunReport`]) × scenarios (rows grouped by
//!   spec; a scenario run with several knob combinations gets one row per combination), each cell
//!   coloured by outcome and linked to its drill-down;
//! - **coverage**: every requirement of the protocol catalogue with its level, actor, clause and
//!   summary, the scenarios that exercise it (declared in the scenario, or met by a finding) with
//!   their outcomes, and the requirements no scenario covers;
//! - **drill-down**: per implementation and scenario, the findings, steps and transcript.
//!
//! Every string from the model is HTML-escaped: transcripts and findings come from the wire.

use std::collections::{BTreeMap, BTreeSet};

use acmeproof_protocol::requirements::{Actor, CATALOGUE, Requirement};

use crate::model::{Gate, Outcome, RunReport, ScenarioResult, StepStatus};

const STYLE: &str = r#"
:root { --fg:#1b1f23; --muted:#6a737d; --line:#d0d7de; --bg:#fff; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); margin: 0 2rem 4rem; }
h1 { font-size: 1.5rem; margin: 1.2rem 0 .4rem; }
h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid var(--line); }
h3 { font-size: 1.05rem; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
table { border-collapse: collapse; margin: .4rem 0 1rem; }
th, td { border: 1px solid var(--line); padding: 2px 6px; text-align: left; vertical-align: top; }
thead th { background: #f6f8fa; position: sticky; top: 0; }
tr.spec th { background: #eaeef2; font-weight: 600; }
.muted { color: var(--muted); }
.o { font-weight: 600; white-space: nowrap; }
.o a { color: inherit; text-decoration: none; }
.o-pass { background: #d1f7d6; } .o-pass-non-strict { background: #e6f7c1; }
.o-informational { background: #dbeafe; } .o-unimplemented { background: #fde9c8; }
.o-fail { background: #ffd4d4; } .o-error { background: #e9d2ff; }
.o-skipped { background: #eceff1; } .o-xfail { background: #f2e8d5; }
.o-xpass { background: #ffb3b3; } .o-none { color: var(--muted); font-weight: normal; }
span.o { padding: 0 5px; border-radius: 3px; }
tr.uncovered td { background: #fff8e1; }
details.scenario { border: 1px solid var(--line); border-radius: 4px; margin: .3rem 0; padding: .2rem .6rem; }
details.scenario[open] { padding-bottom: .6rem; }
summary { cursor: pointer; }
table.transcript td.text { white-space: pre-wrap; word-break: break-all; max-width: 70rem; }
table.transcript tr.flagged td { background: #fff1f1; }
dl.meta { display: grid; grid-template-columns: max-content auto; gap: 0 1rem; margin: .4rem 0; }
dl.meta dt { color: var(--muted); } dl.meta dd { margin: 0; }
"#;

/// Opens the `<details>` holding the element the URL fragment names, so matrix links land on
/// an open drill-down.
const SCRIPT: &str = r#"
function openTarget() {
  var el = document.getElementById(decodeURIComponent(location.hash.slice(1)));
  for (var e = el; e; e = e.parentElement) { if (e.tagName === "DETAILS") e.open = true; }
  if (el) el.scrollIntoView();
}
window.addEventListener("hashchange", openTarget);
window.addEventListener("DOMContentLoaded", openTarget);
"#;

/// The HTML page for the given runs (one matrix column each), with coverage over the whole
/// protocol catalogue.
pub fn render(reports: &[RunReport]) -> String {
    render_with_catalogue(reports, CATALOGUE)
}

/// [`render`] written straight to `out`, the same bytes, holding one scenario's drill-down at a
/// time rather than the whole page (a library run's page is megabytes of transcripts).
pub fn write(reports: &[RunReport], out: impl std::io::Write) -> std::io::Result<()> {
    write_with_catalogue(reports, CATALOGUE, out)
}

/// [`render`] with coverage over the given requirements instead of the whole catalogue (for
/// tests, or a report focused on one family).
pub fn render_with_catalogue(reports: &[RunReport], catalogue: &[Requirement]) -> String {
    let mut bytes = Vec::new();
    // Writing into a Vec cannot fail, and only `str`s are written, so the bytes are UTF-8.
    let _ = write_with_catalogue(reports, catalogue, &mut bytes);
    String::from_utf8(bytes).unwrap_or_default()
}

/// [`write`] with coverage over the given requirements.
pub fn write_with_catalogue(
    reports: &[RunReport],
    catalogue: &[Requirement],
    out: impl std::io::Write,
) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(out);
    let mut page = String::new();
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    page.push_str("<title>acmeproof conformance report</title>\n<style>");
    page.push_str(STYLE);
    page.push_str("</style>\n<script>");
    page.push_str(SCRIPT);
    page.push_str("</script>\n</head>\n<body>\n<h1>acmeproof conformance report</h1>\n");
    runs(&mut page, reports);
    page.push_str(
        "<p><a href=\"#matrix\">Matrix</a> · <a href=\"#coverage\">Requirement coverage</a> · \
         <a href=\"#drill-down\">Drill-down</a></p>\n",
    );
    let rows = rows(reports);
    matrix(&mut page, reports, &rows);
    coverage(&mut page, reports, &rows, catalogue);
    // The drill-down holds every transcript: written one scenario at a time.
    page.push_str("<h2 id=\"drill-down\">Drill-down</h2>\n");
    for (ri, r) in reports.iter().enumerate() {
        page.push_str(&format!("<h3>{}</h3>\n", esc(&r.implementation)));
        for (si, s) in r.scenarios.iter().enumerate() {
            scenario(&mut page, ri, si, s);
            out.write_all(page.as_bytes())?;
            page.clear();
        }
    }
    page.push_str("</body>\n</html>\n");
    out.write_all(page.as_bytes())?;
    out.flush()
}

/// The runs, one line each.
fn runs(out: &mut String, reports: &[RunReport]) {
    out.push_str("<table class=\"runs\">\n<thead><tr><th>implementation</th><th>sut</th><th>started</th><th>duration</th><th>mode</th><th>tool</th><th>gate</th><th>outcomes</th></tr></thead>\n<tbody>\n");
    for r in reports {
        let gate = r.gate();
        let class = match gate {
            Gate::Accepted => "pass",
            Gate::Rejected => "fail",
            Gate::HarnessError => "error",
        };
        out.push_str(&format!(
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} ms</td><td>{}{}</td><td>{} {}</td><td><span class=\"o o-{class}\">{} (exit {})</span></td><td>{}</td></tr>\n",
            esc(&r.implementation),
            esc(sut_name(r)),
            esc(&r.started_at),
            r.duration_ms,
            if r.strict { "strict" } else { "non-strict" },
            r.waiver_file
                .as_deref()
                .map(|w| format!(", waivers <code>{}</code>", esc(w)))
                .unwrap_or_default(),
            esc(&r.tool.name),
            esc(&r.tool.version),
            gate.as_str(),
            gate.exit_code(),
            esc(&r.summary.headline()),
        ));
    }
    out.push_str("</tbody>\n</table>\n");
}

fn sut_name(r: &RunReport) -> &'static str {
    match r.sut {
        crate::model::SutKind::Reference => "reference",
        crate::model::SutKind::Client => "client",
        crate::model::SutKind::Server => "server",
    }
}

/// A matrix row: one scenario id with one set of knob values.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RowKey {
    spec: String,
    id: String,
    variants: String,
}

/// One row per (scenario id, knob values), sorted by spec then id; each holds, per report, the
/// index of its result there.
fn rows(reports: &[RunReport]) -> BTreeMap<RowKey, Vec<Option<usize>>> {
    let mut rows: BTreeMap<RowKey, Vec<Option<usize>>> = BTreeMap::new();
    for (ri, r) in reports.iter().enumerate() {
        for (si, s) in r.scenarios.iter().enumerate() {
            let key = RowKey {
                spec: s.spec.clone(),
                id: s.id.clone(),
                variants: variants_label(s),
            };
            let cells = rows.entry(key).or_insert_with(|| vec![None; reports.len()]);
            // A repeated (id, variants) in one report keeps its first result.
            if cells[ri].is_none() {
                cells[ri] = Some(si);
            }
        }
    }
    rows
}

fn variants_label(s: &ScenarioResult) -> String {
    s.variants
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The anchor of a drill-down: report and scenario index, never text from the model.
fn anchor(ri: usize, si: usize) -> String {
    format!("r{ri}-s{si}")
}

fn outcome_cell(reports: &[RunReport], ri: usize, si: Option<usize>, mark: bool) -> String {
    match si {
        Some(si) => {
            let o = reports[ri].scenarios[si].outcome;
            format!(
                "<td class=\"o o-{o}\"><a href=\"#{}\">{o}{}</a></td>",
                anchor(ri, si),
                if mark { " ⚑" } else { "" }
            )
        }
        None => "<td class=\"o o-none\">—</td>".to_owned(),
    }
}

fn impl_headers(out: &mut String, reports: &[RunReport]) {
    for r in reports {
        out.push_str(&format!("<th>{}</th>", esc(&r.implementation)));
    }
}

fn matrix(out: &mut String, reports: &[RunReport], rows: &BTreeMap<RowKey, Vec<Option<usize>>>) {
    out.push_str("<h2 id=\"matrix\">Implementations × scenarios</h2>\n");
    out.push_str("<table class=\"matrix\">\n<thead><tr><th>scenario</th>");
    impl_headers(out, reports);
    out.push_str("</tr></thead>\n<tbody>\n");
    let mut spec: Option<&str> = None;
    for (key, cells) in rows {
        if spec != Some(key.spec.as_str()) {
            spec = Some(key.spec.as_str());
            out.push_str(&format!(
                "<tr class=\"spec\"><th colspan=\"{}\">{}</th></tr>\n",
                reports.len() + 1,
                esc(&key.spec)
            ));
        }
        let title = cells
            .iter()
            .enumerate()
            .find_map(|(ri, si)| si.map(|si| reports[ri].scenarios[si].title.as_str()))
            .unwrap_or("");
        out.push_str(&format!(
            "<tr><th scope=\"row\"><code>{}</code>",
            esc(&key.id)
        ));
        if !key.variants.is_empty() {
            out.push_str(&format!(
                " <code class=\"muted\">[{}]</code>",
                esc(&key.variants)
            ));
        }
        out.push_str(&format!(
            "<br><span class=\"muted\">{}</span></th>",
            esc(title)
        ));
        for (ri, si) in cells.iter().enumerate() {
            out.push_str(&outcome_cell(reports, ri, *si, false));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn actor_name(a: Actor) -> &'static str {
    match a {
        Actor::Server => "server",
        Actor::Client => "client",
        Actor::Mua => "MUA",
        Actor::ServerAndClient => "server/client",
        Actor::MuaAndServer => "MUA/server",
        Actor::Any => "any",
    }
}

fn coverage(
    out: &mut String,
    reports: &[RunReport],
    rows: &BTreeMap<RowKey, Vec<Option<usize>>>,
    catalogue: &[Requirement],
) {
    // requirement id → rows that declare it or met a finding for it; and the ids that a
    // scenario which ran exercised. A scenario that reached no verdict on the implementation
    // (skipped, not implemented by it, or a harness error) is listed but exercised nothing.
    let mut by_req: BTreeMap<&str, Vec<&RowKey>> = BTreeMap::new();
    let mut exercised: BTreeSet<&str> = BTreeSet::new();
    for (key, cells) in rows {
        let mut reqs: BTreeSet<&str> = BTreeSet::new();
        for (ri, si) in cells.iter().enumerate() {
            if let Some(si) = si {
                let s = &reports[ri].scenarios[*si];
                let named = s
                    .requirements
                    .iter()
                    .map(String::as_str)
                    .chain(s.findings.iter().map(|f| f.req.as_str()));
                let ran = !matches!(
                    s.outcome,
                    Outcome::Skipped | Outcome::Unimplemented | Outcome::Error
                );
                for req in named {
                    reqs.insert(req);
                    if ran {
                        exercised.insert(req);
                    }
                }
            }
        }
        for req in reqs {
            by_req.entry(req).or_default().push(key);
        }
    }

    let uncovered: Vec<&str> = catalogue
        .iter()
        .filter(|r| !exercised.contains(r.id))
        .map(|r| r.id)
        .collect();
    let unknown: Vec<&str> = by_req
        .keys()
        .copied()
        .filter(|id| !catalogue.iter().any(|r| r.id == *id))
        .collect();

    out.push_str("<h2 id=\"coverage\">Requirement coverage</h2>\n");
    out.push_str(&format!(
        "<p>{} of {} catalogue requirements are exercised by at least one scenario that ran (skipped, unimplemented and errored scenarios do not count). \
         ⚑ marks a finding against the requirement itself.</p>\n",
        catalogue.len() - uncovered.len(),
        catalogue.len()
    ));
    if !uncovered.is_empty() {
        out.push_str(&format!(
            "<p>Not exercised by a scenario that ran: <code>{}</code></p>\n",
            esc(&uncovered.join(", "))
        ));
    }
    if !unknown.is_empty() {
        out.push_str(&format!(
            "<p>Ids named by scenarios or findings but missing from the catalogue: <code>{}</code></p>\n",
            esc(&unknown.join(", "))
        ));
    }
    out.push_str("<table class=\"coverage\">\n<thead><tr><th>requirement</th><th>level</th><th>actor</th><th>clause</th><th>summary</th><th>scenario</th>");
    impl_headers(out, reports);
    out.push_str("</tr></thead>\n<tbody>\n");
    for req in catalogue {
        let keys = by_req.get(req.id).map(Vec::as_slice).unwrap_or(&[]);
        let span = keys.len().max(1);
        let class = if !exercised.contains(req.id) {
            " class=\"uncovered\""
        } else {
            ""
        };
        out.push_str(&format!(
            "<tr id=\"req-{id}\"{class}><td rowspan=\"{span}\"><code>{id}</code></td><td rowspan=\"{span}\">{kw}</td><td rowspan=\"{span}\">{actor}</td><td rowspan=\"{span}\">{src}</td><td rowspan=\"{span}\">{sum}</td>",
            id = esc(req.id),
            kw = esc(req.keyword()),
            actor = actor_name(req.actor),
            src = esc(req.source),
            sum = esc(req.summary),
        ));
        if keys.is_empty() {
            out.push_str(&format!(
                "<td class=\"muted\">no scenario</td>{}</tr>\n",
                "<td></td>".repeat(reports.len())
            ));
            continue;
        }
        for (n, key) in keys.iter().enumerate() {
            if n > 0 {
                out.push_str(&format!("<tr{class}>"));
            }
            out.push_str(&format!("<td><code>{}</code>", esc(&key.id)));
            if !key.variants.is_empty() {
                out.push_str(&format!(
                    " <code class=\"muted\">[{}]</code>",
                    esc(&key.variants)
                ));
            }
            out.push_str("</td>");
            let cells = rows.get(*key).map(Vec::as_slice).unwrap_or(&[]);
            for ri in 0..reports.len() {
                let si = cells.get(ri).copied().flatten();
                let mark = si.is_some_and(|si| {
                    reports[ri].scenarios[si]
                        .findings
                        .iter()
                        .any(|f| f.req == req.id)
                });
                out.push_str(&outcome_cell(reports, ri, si, mark));
            }
            out.push_str("</tr>\n");
        }
    }
    out.push_str("</tbody>\n</table>\n");
}

fn scenario(out: &mut String, ri: usize, si: usize, s: &ScenarioResult) {
    let id = anchor(ri, si);
    let variants = variants_label(s);
    out.push_str(&format!(
        "<details class=\"scenario\" id=\"{id}\"><summary><span class=\"o o-{o}\">{o}</span> <code>{}</code>{} — {}</summary>\n",
        esc(&s.id),
        if variants.is_empty() {
            String::new()
        } else {
            format!(" <code class=\"muted\">[{}]</code>", esc(&variants))
        },
        esc(&s.title),
        o = s.outcome,
    ));

    out.push_str("<dl class=\"meta\">");
    let mut meta = |k: &str, v: String| out.push_str(&format!("<dt>{k}</dt><dd>{v}</dd>"));
    meta(
        "role",
        match s.role {
            crate::model::Role::Client => "client",
            crate::model::Role::Server => "server",
            crate::model::Role::Both => "both",
        }
        .to_owned(),
    );
    meta("expected", s.expected.to_string());
    meta(
        "requirements",
        s.requirements
            .iter()
            .map(|r| format!("<a href=\"#req-{0}\"><code>{0}</code></a>", esc(r)))
            .collect::<Vec<_>>()
            .join(" "),
    );
    meta("seed", s.seed.to_string());
    meta("duration", format!("{} ms", s.duration_ms));
    if !variants.is_empty() {
        meta("variants", format!("<code>{}</code>", esc(&variants)));
    }
    if let Some(w) = &s.waiver {
        meta("waiver", esc(w));
    }
    if let Some(e) = &s.error {
        meta("error", format!("<span class=\"mono\">{}</span>", esc(e)));
    }
    out.push_str("</dl>\n");

    if !s.findings.is_empty() {
        out.push_str("<h4>Findings</h4>\n<table class=\"findings\"><thead><tr><th>requirement</th><th>level</th><th>expected</th><th>observed</th><th>step</th><th>wire</th></tr></thead><tbody>\n");
        for f in &s.findings {
            out.push_str(&format!(
                "<tr><td><a href=\"#req-{req}\"><code>{req}</code></a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                f.level,
                esc(&f.expected),
                esc(&f.observed),
                f.step.map(|n| n.to_string()).unwrap_or_default(),
                f.transcript
                    .map(|t| format!("<a href=\"#{id}-t{t}\">#{t}</a>"))
                    .unwrap_or_default(),
                req = esc(&f.req),
            ));
        }
        out.push_str("</tbody></table>\n");
    }

    if !s.steps.is_empty() {
        out.push_str("<h4>Steps</h4>\n<table class=\"steps\"><thead><tr><th>#</th><th>action</th><th>summary</th><th>status</th><th>detail</th></tr></thead><tbody>\n");
        for st in &s.steps {
            let class = match st.status {
                StepStatus::Ok => "o-pass",
                StepStatus::Failed => "o-fail",
                StepStatus::Skipped | StepStatus::NotRun => "o-skipped",
            };
            out.push_str(&format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"o {class}\">{}</td><td>{}</td></tr>\n",
                st.index,
                esc(&st.action),
                esc(&st.summary),
                st.status.as_str(),
                st.detail.as_deref().map(esc).unwrap_or_default(),
            ));
        }
        out.push_str("</tbody></table>\n");
    }

    if !s.transcript.is_empty() {
        let flagged: BTreeSet<usize> = s.findings.iter().filter_map(|f| f.transcript).collect();
        out.push_str("<h4>Transcript</h4>\n<table class=\"transcript mono\"><thead><tr><th>#</th><th>seq</th><th>ms</th><th>channel</th><th></th><th>conn</th><th>endpoint</th><th>text</th></tr></thead><tbody>\n");
        for (ti, t) in s.transcript.iter().enumerate() {
            out.push_str(&format!(
                "<tr id=\"{id}-t{ti}\"{}><td>{ti}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"text\">{}</td></tr>\n",
                if flagged.contains(&ti) {
                    " class=\"flagged\""
                } else {
                    ""
                },
                t.seq,
                t.at_ms,
                t.channel.as_str(),
                t.direction.arrow(),
                t.conn.map(|c| c.to_string()).unwrap_or_default(),
                esc(&t.endpoint),
                esc(&t.text),
            ));
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("</details>\n");
}

/// HTML-escapes text for element content and quoted attribute values. Control characters other
/// than tab, CR and LF become U+FFFD (they are parse errors in HTML).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c.is_control() => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_controls() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"\u{7}"),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;\u{FFFD}"
        );
        assert_eq!(esc("é ✓"), "é ✓");
    }
}
