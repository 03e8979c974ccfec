//! One log record and its JSON line.
//!
//! A record is built only after its level passed the filter (`filter.rs`), so nothing
//! here runs for a disabled level. The same record is written as one JSON line
//! (`to_json_line`) and handed to a Python listener as a dict (`listener.rs`), with the
//! same keys in both.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

/// Severity, most severe first; `Off` (0) disables everything in a filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Error = 1,
    Warn = 2,
    Info = 3,
    Debug = 4,
    Trace = 5,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warn => "warn",
            Level::Info => "info",
            Level::Debug => "debug",
            Level::Trace => "trace",
        }
    }

    /// `error`, `warn` (or `warning`), `info`, `debug`, `trace`, any case.
    pub fn parse(name: &str) -> Option<Level> {
        match name.trim().to_ascii_lowercase().as_str() {
            "error" => Some(Level::Error),
            "warn" | "warning" => Some(Level::Warn),
            "info" => Some(Level::Info),
            "debug" => Some(Level::Debug),
            "trace" => Some(Level::Trace),
            _ => None,
        }
    }
}

/// One record, as written. `trace_id`, `error_code`, `error_kind` and `context` are left
/// out of the line when they do not apply.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Record {
    /// UTC, RFC 3339 with microseconds: `2026-11-26T09:38:35.123456Z`.
    pub ts: String,
    pub level: &'static str,
    pub target: String,
    pub run_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_kind: Option<&'static str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub context: BTreeMap<String, String>,
    pub file: String,
    pub line: u32,
}

impl Record {
    /// The record as one JSON line, ending in `\n`.
    pub fn to_json_line(&self) -> Vec<u8> {
        // Serialising plain strings and numbers cannot fail; if it ever did, the line
        // still says what happened.
        let mut line = serde_json::to_vec(self)
            .unwrap_or_else(|err| format!("{{\"level\":\"error\",\"message\":\"unencodable log record: {err}\"}}").into_bytes());
        line.push(b'\n');
        line
    }
}

/// Now, as `ts` shows it.
pub fn now_rfc3339() -> String {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    rfc3339_micros(since.as_secs(), since.subsec_micros())
}

/// `secs` after the Unix epoch (UTC) and `micros` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`.
pub fn rfc3339_micros(secs: u64, micros: u32) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's `civil_from_days`: the proleptic Gregorian date of a day number.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_rfc3339_with_microseconds() {
        assert_eq!(rfc3339_micros(0, 0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(rfc3339_micros(951_782_400, 7), "2000-02-29T00:00:00.000007Z");
        assert_eq!(rfc3339_micros(1_795_685_915, 123_456), "2026-11-26T09:38:35.123456Z");
        assert_eq!(now_rfc3339().len(), "1970-01-01T00:00:00.000000Z".len());
    }

    #[test]
    fn a_record_is_one_json_line_without_fields_that_do_not_apply() {
        let mut record = Record {
            ts: "2026-11-26T09:38:35.123456Z".into(),
            level: "warn",
            target: "codetracer_recorder".into(),
            run_id: "r".into(),
            trace_id: None,
            message: "say \"hi\"\n".into(),
            error_code: None,
            error_kind: None,
            context: BTreeMap::new(),
            file: "src/x.rs".into(),
            line: 7,
        };
        let line = String::from_utf8(record.to_json_line()).unwrap_or_default();
        assert_eq!(
            line,
            "{\"ts\":\"2026-11-26T09:38:35.123456Z\",\"level\":\"warn\",\"target\":\"codetracer_recorder\",\
             \"run_id\":\"r\",\"message\":\"say \\\"hi\\\"\\n\",\"file\":\"src/x.rs\",\"line\":7}\n"
        );
        record.trace_id = Some("t".into());
        record.error_code = Some("ERR_IO");
        record.error_kind = Some("environment");
        record.context.insert("path".into(), "/x".into());
        let value: serde_json::Value = serde_json::from_slice(&record.to_json_line()).unwrap_or_default();
        assert_eq!(value["trace_id"], "t");
        assert_eq!(value["error_code"], "ERR_IO");
        assert_eq!(value["error_kind"], "environment");
        assert_eq!(value["context"]["path"], "/x");
    }
}
