//! `RecorderPolicy`: what the recorder does when it fails, one global snapshot.
//!
//! Every field is declared once, in [`FIELDS`]: its name (the keyword of
//! `configure_policy`), its environment variable, its CLI flags and how its text is
//! parsed. Keyword arguments, environment variables and CLI flags all go through
//! [`parse`], so a value means the same wherever it comes from, and a bad one is a
//! `UsageError` (`ERR_INVALID_POLICY_VALUE`) naming where it came from, the value and
//! what is accepted. The sources are layered by the callers (Python's `start` and the
//! CLI): defaults, then the environment, then explicit keyword arguments or flags.
//!
//! A session copies the policy when it starts (`Session::start`), so changing the policy
//! while recording affects the next session, never the running one.

use std::path::PathBuf;
use std::sync::{PoisonError, RwLock};

use crate::errors::{ErrorCode, RecorderError, RecorderResult};

/// What a failure while recording does to the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRecorderError {
    /// Recording stops and `stop` raises the error (the default).
    Abort,
    /// Recording stops, a warning is logged, and `stop` returns normally.
    Disable,
}

impl OnRecorderError {
    pub fn name(self) -> &'static str {
        match self {
            OnRecorderError::Abort => "abort",
            OnRecorderError::Disable => "disable",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecorderPolicy {
    pub on_recorder_error: OnRecorderError,
    /// A session that recorded nothing of the program fails with `ERR_TRACE_MISSING`.
    pub require_trace: bool,
    /// After a failure, keep what was written, marked partial in `trace_metadata.json`.
    pub keep_partial_trace: bool,
    /// The log filter (`info`, `codetracer=debug,…`); `None` is the logger's default.
    pub log_level: Option<String>,
    /// Where logs go instead of stderr (an absolute path).
    pub log_file: Option<PathBuf>,
    /// Write a JSON trailer on stderr for each error that reaches Python.
    pub json_errors: bool,
}

impl RecorderPolicy {
    pub const DEFAULT: RecorderPolicy = RecorderPolicy {
        on_recorder_error: OnRecorderError::Abort,
        require_trace: false,
        keep_partial_trace: false,
        log_level: None,
        log_file: None,
        json_errors: false,
    };

    fn apply(&mut self, setting: Setting) {
        match setting {
            Setting::OnRecorderError(value) => self.on_recorder_error = value,
            Setting::RequireTrace(value) => self.require_trace = value,
            Setting::KeepPartialTrace(value) => self.keep_partial_trace = value,
            Setting::LogLevel(value) => self.log_level = Some(value),
            Setting::LogFile(value) => self.log_file = Some(value),
            Setting::JsonErrors(value) => self.json_errors = value,
        }
    }
}

/// A parsed value of one field, ready to apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting {
    OnRecorderError(OnRecorderError),
    RequireTrace(bool),
    KeepPartialTrace(bool),
    LogLevel(String),
    LogFile(PathBuf),
    JsonErrors(bool),
}

/// How a field's value is written, which decides its CLI form: a `Switch` is a flag that
/// may stand alone (true) or take `=VALUE`; the others always take a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Choice,
    Switch,
    LogFilter,
    Path,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Choice => "choice",
            Kind::Switch => "bool",
            Kind::LogFilter => "log_filter",
            Kind::Path => "path",
        }
    }
}

/// One policy field: every name it goes by, and how its text is read.
pub struct Field {
    /// The keyword of `configure_policy` and the key of `policy_snapshot`.
    pub name: &'static str,
    pub env: &'static str,
    pub flag: &'static str,
    /// The spelling of the upstream CodeTracer Python recorder, accepted as well.
    pub upstream_flag: &'static str,
    pub kind: Kind,
    /// What is accepted, as error messages and `--help` say it.
    pub accepted: &'static str,
    pub help: &'static str,
    /// The value of `text`, or `None` if it is not accepted.
    parse: fn(&str) -> Option<Setting>,
}

const SWITCH_ACCEPTED: &str = "1/0, true/false, yes/no, on/off (any case)";
const LEVELS: [&str; 6] = ["error", "warn", "info", "debug", "trace", "off"];

/// The policy fields. The CLI, the environment and `configure_policy` are built from it.
pub static FIELDS: [Field; 6] = [
    Field {
        name: "on_recorder_error",
        env: "CODETRACER_ON_RECORDER_ERROR",
        flag: "--codetracer-on-recorder-error",
        upstream_flag: "--on-recorder-error",
        kind: Kind::Choice,
        accepted: "abort, disable",
        help: "when the recorder fails while recording: abort (stop recording and report the error, \
               the default) or disable (detach with a warning and let the program run on)",
        parse: |text| {
            let choice = match text.trim().to_ascii_lowercase().as_str() {
                "abort" => OnRecorderError::Abort,
                "disable" => OnRecorderError::Disable,
                _ => return None,
            };
            Some(Setting::OnRecorderError(choice))
        },
    },
    Field {
        name: "require_trace",
        env: "CODETRACER_REQUIRE_TRACE",
        flag: "--codetracer-require-trace",
        upstream_flag: "--require-trace",
        kind: Kind::Switch,
        accepted: SWITCH_ACCEPTED,
        help: "fail (ERR_TRACE_MISSING) when nothing of the program was recorded",
        parse: |text| parse_bool(text).map(Setting::RequireTrace),
    },
    Field {
        name: "keep_partial_trace",
        env: "CODETRACER_KEEP_PARTIAL_TRACE",
        flag: "--codetracer-keep-partial-trace",
        upstream_flag: "--keep-partial-trace",
        kind: Kind::Switch,
        accepted: SWITCH_ACCEPTED,
        help: "after a failure, keep what was written, marked partial in trace_metadata.json",
        parse: |text| parse_bool(text).map(Setting::KeepPartialTrace),
    },
    Field {
        name: "log_level",
        env: "CODETRACER_LOG_LEVEL",
        flag: "--codetracer-log-level",
        upstream_flag: "--log-level",
        kind: Kind::LogFilter,
        accepted: "a level (error, warn, info, debug, trace, off) or comma-separated target=level directives",
        help: "the recorder's log filter, e.g. info or codetracer_recorder=debug",
        parse: |text| parse_log_filter(text).map(Setting::LogLevel),
    },
    Field {
        name: "log_file",
        env: "CODETRACER_LOG_FILE",
        flag: "--codetracer-log-file",
        upstream_flag: "--log-file",
        kind: Kind::Path,
        accepted: "a file path",
        help: "write the recorder's logs to this file instead of stderr",
        parse: |text| parse_path(text).map(Setting::LogFile),
    },
    Field {
        name: "json_errors",
        env: "CODETRACER_JSON_ERRORS",
        flag: "--codetracer-json-errors",
        upstream_flag: "--json-errors",
        kind: Kind::Switch,
        accepted: SWITCH_ACCEPTED,
        help: "write a JSON line on stderr for each recorder error",
        parse: |text| parse_bool(text).map(Setting::JsonErrors),
    },
];

static POLICY: RwLock<RecorderPolicy> = RwLock::new(RecorderPolicy::DEFAULT);

/// A copy of the current policy.
pub fn current() -> RecorderPolicy {
    POLICY.read().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Applies every setting, or none if the list is empty; validated settings only.
pub fn apply(settings: Vec<Setting>) {
    let mut policy = POLICY.write().unwrap_or_else(PoisonError::into_inner);
    for setting in settings {
        policy.apply(setting);
    }
    let (log_level, log_file) = (policy.log_level.clone(), policy.log_file.clone());
    drop(policy);
    crate::logging::configure(log_level.as_deref(), log_file.as_deref());
}

/// Back to the built-in defaults.
pub fn reset() {
    *POLICY.write().unwrap_or_else(PoisonError::into_inner) = RecorderPolicy::DEFAULT;
    crate::logging::configure(None, None);
}

/// The field called `name` (a `configure_policy` keyword).
pub fn field(name: &str) -> RecorderResult<&'static Field> {
    FIELDS.iter().find(|f| f.name == name).ok_or_else(|| {
        let names: Vec<&str> = FIELDS.iter().map(|f| f.name).collect();
        RecorderError::new(
            ErrorCode::InvalidPolicyValue,
            format!("unknown policy field {name:?}; the fields are {}", names.join(", ")),
        )
        .with("field", name)
        .with("accepted", names.join(", "))
    })
}

/// Parses `text` as a value of `field`; `source` names where it came from (the keyword,
/// the environment variable or the flag) for the error message.
pub fn parse(field: &Field, text: &str, source: &str) -> RecorderResult<Setting> {
    (field.parse)(text).ok_or_else(|| invalid(field, text, source))
}

/// The error for a value of `field` that is not accepted.
pub fn invalid(field: &Field, value: &str, source: &str) -> RecorderError {
    RecorderError::new(
        ErrorCode::InvalidPolicyValue,
        format!("invalid value {value:?} for {source}; accepted: {}", field.accepted),
    )
    .with("field", field.name)
    .with("source", source)
    .with("value", value)
    .with("accepted", field.accepted)
}

/// The settings of the `CODETRACER_*` variables that are set (an empty one counts as
/// unset, as OpenTelemetry's variables do); the first bad one is an error.
pub fn from_env() -> RecorderResult<Vec<Setting>> {
    let mut settings = Vec::new();
    for field in &FIELDS {
        let Some(raw) = std::env::var_os(field.env) else { continue };
        let Some(text) = raw.to_str() else {
            return Err(invalid(field, &raw.to_string_lossy(), field.env));
        };
        if text.trim().is_empty() {
            continue;
        }
        settings.push(parse(field, text, field.env)?);
    }
    Ok(settings)
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

/// `level` or `target=level` directives, comma-separated (the `RUST_LOG` form); returned
/// normalised (trimmed, levels in lower case).
fn parse_log_filter(text: &str) -> Option<String> {
    let level = |name: &str| {
        let name = name.trim().to_ascii_lowercase();
        LEVELS.contains(&name.as_str()).then_some(name)
    };
    let target_ok = |t: &str| !t.is_empty() && t.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.' | '-'));
    let mut directives = Vec::new();
    for directive in text.split(',') {
        let directive = directive.trim();
        match directive.split_once('=') {
            None => directives.push(level(directive)?),
            Some((target, name)) => {
                let target = target.trim();
                if !target_ok(target) {
                    return None;
                }
                directives.push(format!("{target}={}", level(name)?));
            }
        }
    }
    Some(directives.join(","))
}

/// A non-empty path without NUL bytes, made absolute (so a later `chdir` does not move it).
fn parse_path(text: &str) -> Option<PathBuf> {
    if text.is_empty() || text.contains('\0') {
        return None;
    }
    std::path::absolute(text).ok()
}

/// Under `disable`: the one warning record saying that recording stopped and why (with
/// the error's code, kind and context, and the session's trace id). Writing it never fails
/// the program (see `logging`).
pub fn report_detach(err: &RecorderError, trace_id: &str) {
    use crate::logging::{self, Level, TARGET};
    if logging::enabled(Level::Warn, TARGET) {
        let message = format!("recording stopped by a recorder error; the program runs on (on_recorder_error=disable): {err}");
        logging::log_error(Level::Warn, TARGET, err, message, Some(trace_id), file!(), line!());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(name: &str, text: &str) -> RecorderResult<Setting> {
        parse(field(name)?, text, name)
    }

    #[test]
    fn every_field_has_distinct_names() {
        let mut seen = std::collections::HashSet::new();
        for f in &FIELDS {
            for name in [f.name, f.env, f.flag, f.upstream_flag] {
                assert!(seen.insert(name), "{name} used twice");
            }
            assert!(f.env.starts_with("CODETRACER_") && f.flag.starts_with("--codetracer-"));
            assert_eq!(f.flag.strip_prefix("--codetracer-"), f.upstream_flag.strip_prefix("--"));
        }
    }

    #[test]
    fn booleans_take_the_usual_spellings_in_any_case() -> RecorderResult<()> {
        for text in ["1", "true", "YES", " On "] {
            assert_eq!(value("require_trace", text)?, Setting::RequireTrace(true));
        }
        for text in ["0", "False", "no", "OFF"] {
            assert_eq!(value("json_errors", text)?, Setting::JsonErrors(false));
        }
        let err = value("keep_partial_trace", "maybe").unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidPolicyValue);
        assert_eq!(err.context["field"], "keep_partial_trace");
        assert_eq!(err.context["value"], "maybe");
        assert!(err.message.contains("yes/no"), "{}", err.message);
        Ok(())
    }

    #[test]
    fn log_filters_are_levels_or_target_directives() -> RecorderResult<()> {
        assert_eq!(value("log_level", "INFO")?, Setting::LogLevel("info".into()));
        assert_eq!(
            value("log_level", "codetracer_recorder=debug, warn")?,
            Setting::LogLevel("codetracer_recorder=debug,warn".into())
        );
        for bad in ["", "loud", "a=b", "=info", "info,", "a b=info"] {
            assert!(value("log_level", bad).is_err(), "{bad:?} accepted");
        }
        Ok(())
    }

    #[test]
    fn unknown_fields_are_named() {
        let err = field("verbosity").err();
        assert!(err.is_some_and(|e| e.code == ErrorCode::InvalidPolicyValue && e.message.contains("verbosity")));
    }

    #[test]
    fn apply_and_reset() -> RecorderResult<()> {
        apply(vec![value("on_recorder_error", "Disable")?, value("log_file", "x.log")?]);
        let policy = current();
        assert_eq!(policy.on_recorder_error, OnRecorderError::Disable);
        assert!(policy.log_file.is_some_and(|p| p.is_absolute() && p.ends_with("x.log")));
        reset();
        assert_eq!(current(), RecorderPolicy::DEFAULT);
        Ok(())
    }
}
