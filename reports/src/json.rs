//! The JSON form of a [`RunReport`]: the CI contract, versioned by [`SCHEMA_VERSION`].

use serde::Deserialize;

use crate::RenderError;
use crate::model::{RunReport, SCHEMA_VERSION};

/// The report as pretty-printed JSON, ending with a newline.
pub fn render(report: &RunReport) -> String {
    // The model has only string map keys and derived impls, so serializing it cannot fail; an
    // empty object is the fallback a reader rejects loudly (no schema_version) if it ever did.
    let mut out = serde_json::to_string_pretty(report).unwrap_or_else(|_| "{}".to_owned());
    out.push('\n');
    out
}

/// [`render`] written straight to `out`, byte for byte the same text, without holding it in
/// memory (a library run's report is megabytes).
pub fn write(report: &RunReport, out: impl std::io::Write) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::BufWriter::new(out);
    serde_json::to_writer_pretty(&mut out, report).map_err(std::io::Error::other)?;
    out.write_all(b"\n")?;
    out.flush()
}

#[derive(Deserialize)]
struct VersionOnly {
    schema_version: u32,
}

/// Reads a report back. A report of another schema version is refused before its fields are
/// looked at, so the error names the version rather than a field that moved.
pub fn parse(text: &str) -> Result<RunReport, RenderError> {
    let probe: VersionOnly = serde_json::from_str(text)?;
    if probe.schema_version != SCHEMA_VERSION {
        return Err(RenderError::SchemaVersion {
            found: probe.schema_version,
            supported: SCHEMA_VERSION,
        });
    }
    Ok(serde_json::from_str(text)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Outcome, Role, ScenarioResult, SutKind, ToolInfo};

    #[test]
    fn round_trip_and_version_check() {
        let mut r = RunReport::new(
            ToolInfo::new("acmeproof", "0.1.0"),
            "2025-01-01T00:00:00Z",
            "reference",
            SutKind::Reference,
            true,
        );
        let mut s = ScenarioResult::new("rfc8823/3.2/x", "t <b>", Role::Both);
        s.outcome = Outcome::PassNonStrict;
        s.variants.insert("token_join".into(), "either".into());
        r.scenarios.push(s);
        r.summarize();
        let text = render(&r);
        assert!(text.contains("\"outcome\": \"pass-non-strict\""), "{text}");
        assert_eq!(parse(&text).unwrap(), r);

        let v2 = text.replace("\"schema_version\": 1", "\"schema_version\": 2");
        let err = parse(&v2).unwrap_err();
        assert!(
            matches!(
                err,
                RenderError::SchemaVersion {
                    found: 2,
                    supported: 1
                }
            ),
            "{err}"
        );
        assert!(matches!(parse("[]"), Err(RenderError::Json(_))));
    }

    #[test]
    fn partition_is_written_only_when_set_and_older_reports_still_read() {
        let mut r = RunReport::new(
            ToolInfo::new("acmeproof", "0.1.0"),
            "2025-01-01T00:00:00Z",
            "reference",
            SutKind::Reference,
            false,
        );
        let whole = render(&r);
        // A report of the whole selection looks as reports did before the field existed, so
        // older readers and older reports are unaffected.
        assert!(!whole.contains("partition"), "{whole}");
        assert_eq!(parse(&whole).unwrap().partition, None);
        r.partition = Some("2/3".into());
        let part = render(&r);
        assert!(part.contains("\"partition\": \"2/3\""), "{part}");
        assert_eq!(parse(&part).unwrap(), r);
    }
}
