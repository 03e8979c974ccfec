//! The recorder's structured logger: one JSON object per line, on stderr or the policy's
//! `log_file`, never stdout.
//!
//! - `record.rs`: a record, its JSON line and its timestamp;
//! - `filter.rs`: the level filter (`log_level`, `RUST_LOG`-style directives);
//! - `sink.rs`: the destination, with the fallback to stderr;
//! - `scope.rs`: `run_id`, the active `trace_id`, `with_error_code` scopes;
//! - `listener.rs`: the Python hook that receives each record (the OTel bridge);
//! - `trailer.rs`: the `json_errors` trailers of errors that reach Python.
//!
//! Initialised once ([`init`]: at import of the native module, or at the first session
//! start of a Rust embedder), and reconfigured whenever the policy changes
//! ([`configure`]). Nothing is formatted for a disabled level: the [`log!`] macro checks
//! [`enabled`] first (one atomic load when the level is above every directive). Nothing is
//! logged per recorded event; records are written on failures, detaches and at session
//! start and stop.

mod filter;
mod listener;
mod record;
mod scope;
mod sink;
pub mod trailer;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Mutex, Once, PoisonError, RwLock};

pub use filter::Filter;
pub use listener::set as set_listener;
pub use record::{Level, Record};
pub use scope::{
    active_trace_id, current_error_code, pop_error_code, push_error_code, renew_run_id, run_id, set_active_trace_id,
    with_error_code, ErrorCodeScope,
};

use crate::errors::{ErrorCode, RecorderError};

/// The target of the core's own records.
pub const TARGET: &str = "codetracer_recorder";

static INIT: Once = Once::new();
static FILTER: RwLock<Option<Filter>> = RwLock::new(None);
/// `Filter::max` of the current filter: a record above it is skipped without a lock.
static MAX_LEVEL: AtomicU8 = AtomicU8::new(Level::Warn as u8);
static SINK: Mutex<sink::Sink> = Mutex::new(sink::Sink::stderr());
/// The configuration last applied, so an unchanged policy changes nothing.
static APPLIED: Mutex<Option<(Option<String>, Option<std::path::PathBuf>)>> = Mutex::new(None);

/// Sets the logger up from the current policy, once per process; later calls do nothing.
pub fn init() {
    INIT.call_once(|| {
        run_id();
        let policy = crate::policy::current();
        configure(policy.log_level.as_deref(), policy.log_file.as_deref());
    });
}

/// Applies a filter and a destination (from the policy). An invalid filter is reported as
/// a warning (`ERR_INVALID_POLICY_VALUE`) and the default filter is kept.
pub fn configure(log_level: Option<&str>, log_file: Option<&Path>) {
    {
        let mut applied = APPLIED.lock().unwrap_or_else(PoisonError::into_inner);
        let wanted = (log_level.map(str::to_owned), log_file.map(Path::to_path_buf));
        if applied.as_ref() == Some(&wanted) {
            return;
        }
        *applied = Some(wanted);
    }
    SINK.lock().unwrap_or_else(PoisonError::into_inner).set_file(log_file);
    let (filter, invalid) = choose_filter(log_level);
    MAX_LEVEL.store(filter.max(), Ordering::SeqCst);
    *FILTER.write().unwrap_or_else(PoisonError::into_inner) = Some(filter);
    if let Some(err) = invalid {
        log_error(Level::Warn, TARGET, &err, err.message.clone(), None, file!(), line!());
    }
}

/// The filter `log_level` asks for, or the default and the error to warn with when it is
/// not a valid filter.
fn choose_filter(log_level: Option<&str>) -> (Filter, Option<RecorderError>) {
    let Some(text) = log_level else { return (Filter::default(), None) };
    match Filter::parse(text) {
        Some(filter) => (filter, None),
        None => {
            let err = RecorderError::new(ErrorCode::InvalidPolicyValue, format!("invalid log filter {text:?}; keeping the default (warn)"))
                .with("field", "log_level")
                .with("value", text);
            (Filter::default(), Some(err))
        }
    }
}

/// Whether a record of `level` from `target` would be written. Cheap when it would not.
#[inline]
pub fn enabled(level: Level, target: &str) -> bool {
    if level as u8 > MAX_LEVEL.load(Ordering::Relaxed) {
        return false;
    }
    let filter = FILTER.read().unwrap_or_else(PoisonError::into_inner);
    filter.as_ref().map_or(Some(level) <= filter::DEFAULT_LEVEL, |f| f.enabled(level, target))
}

/// What a record says beyond its message.
#[derive(Default)]
pub struct Details<'a> {
    /// The code; else the innermost `with_error_code` scope's, if any.
    pub error_code: Option<ErrorCode>,
    /// The kind; else the code's default kind.
    pub error_kind: Option<&'static str>,
    pub context: Option<&'a BTreeMap<String, String>>,
    /// The trace id; else the active session's.
    pub trace_id: Option<&'a str>,
}

/// Writes one record if its level is enabled for `target` (call sites that build their
/// message should check [`enabled`] first, as [`log!`] does).
pub fn write(level: Level, target: &str, message: String, details: Details<'_>, file: &str, line: u32) {
    if !enabled(level, target) {
        return;
    }
    let error_code = details.error_code.or_else(current_error_code);
    let record = Record {
        ts: record::now_rfc3339(),
        level: level.as_str(),
        target: target.to_owned(),
        run_id: run_id(),
        trace_id: details.trace_id.map(str::to_owned).or_else(active_trace_id),
        message,
        error_code: error_code.map(ErrorCode::as_str),
        error_kind: details.error_kind.or_else(|| error_code.map(|code| code.default_kind().as_str())),
        context: details.context.cloned().unwrap_or_default(),
        file: file.to_owned(),
        line,
    };
    write_line(&record);
    if let Some(failure) = listener::deliver(&record) {
        // Written, not delivered: the listener is what failed.
        write_line(&Record { level: Level::Warn.as_str(), message: failure, error_code: None, error_kind: None, context: BTreeMap::new(), ..record });
    }
}

/// A record about `err`: its code, kind and context.
pub fn log_error(level: Level, target: &str, err: &RecorderError, message: String, trace_id: Option<&str>, file: &str, line: u32) {
    let details =
        Details { error_code: Some(err.code), error_kind: Some(err.kind.as_str()), context: Some(&err.context), trace_id };
    write(level, target, message, details, file, line);
}

/// The record's line to the destination; if the log file fails, a warning (`ERR_IO`) and
/// then the record go to stderr, so nothing is lost.
fn write_line(record: &Record) {
    let line = record.to_json_line();
    let failure = SINK.lock().unwrap_or_else(PoisonError::into_inner).write(&line).err();
    let Some(failure) = failure else { return };
    let err = RecorderError::io(&format!("cannot {} the log file", failure.action), &failure.path, &failure.error);
    let warning = Record {
        ts: record::now_rfc3339(),
        level: Level::Warn.as_str(),
        target: TARGET.to_owned(),
        run_id: record.run_id.clone(),
        trace_id: record.trace_id.clone(),
        message: format!("{}; logging to stderr instead", err.message),
        error_code: Some(err.code.as_str()),
        error_kind: Some(err.kind.as_str()),
        context: err.context,
        file: file!().to_owned(),
        line: line!(),
    };
    sink::write_stderr(&warning.to_json_line());
    sink::write_stderr(&line);
}

/// `log!(Level::Info, "recording into {}", path)`: a record from the core (target
/// `codetracer_recorder`, this source location), its message formatted only when the
/// level is enabled.
#[macro_export]
macro_rules! log {
    ($level:expr, $($arg:tt)+) => {
        if $crate::logging::enabled($level, $crate::logging::TARGET) {
            $crate::logging::write(
                $level,
                $crate::logging::TARGET,
                format!($($arg)+),
                $crate::logging::Details::default(),
                file!(),
                line!(),
            );
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_invalid_filter_keeps_the_default_and_says_why() {
        let (filter, err) = choose_filter(Some("loud"));
        assert_eq!(filter, Filter::default());
        let err = err.unwrap_or_else(|| RecorderError::new(ErrorCode::Panic, "no warning"));
        assert_eq!(err.code, ErrorCode::InvalidPolicyValue);
        assert_eq!(err.context["value"], "loud");
        assert_eq!(choose_filter(Some("debug")), (Filter::parse("debug").unwrap_or_default(), None));
        assert_eq!(choose_filter(None), (Filter::default(), None));
    }
}
