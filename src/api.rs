//! The Python-callable entry points (`start_recording`, `stop_recording`,
//! `configure_policy`, `trace_summary`, …), as documented in
//! `codetracer_recorder/_native.pyi`. Each runs through the `ffi::guard`, so errors arrive
//! in Python as the recorder's exception classes; arguments that come from the user or
//! the program are taken as plain objects and checked inside the guard, so a bad one is
//! a classified error too, never a bare `TypeError`.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString, PyTuple};

use crate::errors::{ErrorCode, ErrorKind, RecorderError, RecorderResult};
use crate::fault_injection;
use crate::ffi::{guard, to_py_err};
use crate::policy::{self, Kind, Setting};
use crate::recorder::writer::Format;
use crate::recorder::{utf8_text, Capture, Session, SessionConfig, ACTIVE};
use crate::logging::{self, Level};
use crate::metrics;
use crate::trace_check;

fn busy() -> RecorderError {
    RecorderError::new(ErrorCode::Panic, "the recorder's state is in use by another call").with("site", "api")
}

#[pyfunction]
#[pyo3(signature = (trace_dir, *, format, program, args, include, exclude, skip_prefixes, never_prefixes, capture))]
#[allow(clippy::too_many_arguments)]
pub fn start_recording(
    py: Python<'_>,
    trace_dir: PathBuf,
    format: &str,
    program: &Bound<'_, PyAny>,
    args: &Bound<'_, PyAny>,
    include: Vec<Bound<'_, PyString>>,
    exclude: Vec<Bound<'_, PyString>>,
    skip_prefixes: Vec<String>,
    never_prefixes: Vec<String>,
    capture: &str,
) -> PyResult<String> {
    crate::logging::init();
    guard(py, "start_recording", || {
        fault_injection::arm_from_env()?;
        fault_injection::hit("start_recording")?;
        let mut slot = ACTIVE.borrow_mut(py).ok_or_else(busy)?;
        if let Some(active) = slot.as_ref().filter(|s| !s.detached()) {
            return Err(RecorderError::new(
                ErrorCode::AlreadyTracing,
                format!("a recording is already active (trace {}); stop it before starting another", active.trace_id()),
            )
            .with("trace_id", active.trace_id()));
        }
        // A session that detached under `disable` and was never stopped: finish it now
        // (its failure was reported when it detached).
        if let Some(detached) = slot.take() {
            let _ = detached.stop(py, None);
            logging::set_active_trace_id(None);
        }
        let trace_dir_shown = trace_dir.display().to_string();
        let config = SessionConfig {
            trace_dir,
            format: Format::parse(format)?,
            program: target_text(program, "the program name (sys.argv[0])")?,
            args: target_args(args)?,
            include: glob_texts("include", &include)?,
            exclude: glob_texts("exclude", &exclude)?,
            skip_prefixes,
            never_prefixes,
            capture: Capture::parse(capture)?,
            policy: policy::current(),
        };
        let session = Session::start(py, config)?;
        let trace_id = session.trace_id().to_owned();
        *slot = Some(session);
        logging::set_active_trace_id(Some(&trace_id));
        crate::log!(Level::Info, "recording started: trace {trace_id} into {}", trace_dir_shown);
        Ok(trace_id)
    })
}

/// The `include` or `exclude` globs as text; one holding undecodable bytes (lone
/// surrogates) could never match a path the recorder sees, so it is refused.
fn glob_texts(option: &str, globs: &[Bound<'_, PyString>]) -> RecorderResult<Vec<String>> {
    globs
        .iter()
        .map(|glob| {
            glob.to_str().map(str::to_owned).map_err(|_| {
                RecorderError::new(
                    ErrorCode::InvalidPolicyValue,
                    format!("{option} glob {} holds bytes that are not text (UTF-8); write it as text", shown(glob.as_any())),
                )
                .with("option", option)
            })
        })
        .collect()
}

/// The program's arguments (from `sys.argv` unless the caller gave them, in which case
/// the Python layer has checked them): each must be a `str`. Text that is not valid
/// UTF-8 (undecodable bytes of the command line) keeps each such byte as a `\udcxx`
/// escape, as values do.
fn target_args(args: &Bound<'_, PyAny>) -> RecorderResult<Vec<String>> {
    let items = args.try_iter().map_err(|_| target_args_error(format!("the program's arguments (sys.argv) are of type {}, not a list", type_name(args))))?;
    let mut out = Vec::new();
    for (index, item) in items.enumerate() {
        let item = item.map_err(|err| target_args_error(format!("cannot read the program's arguments: {err}")))?;
        out.push(target_text(&item, &format!("sys.argv[{}]", index + 1))?);
    }
    Ok(out)
}

fn target_text(value: &Bound<'_, PyAny>, what: &str) -> RecorderResult<String> {
    let text = value
        .downcast::<PyString>()
        .map_err(|_| target_args_error(format!("{what} is of type {}, not str", type_name(value))).with("argument", what))?;
    // SAFETY: a live str object.
    Ok(unsafe { utf8_text(text.as_ptr()) })
}

fn target_args_error(message: String) -> RecorderError {
    RecorderError::new(ErrorCode::TargetArgs, message)
}

fn type_name(value: &Bound<'_, PyAny>) -> String {
    value.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".to_owned())
}

/// A caller's value as an error message shows it: its `repr`, cut to one short line.
fn shown(value: &Bound<'_, PyAny>) -> String {
    const MAX: usize = 60;
    let text = value.repr().map(|r| r.to_string_lossy().into_owned()).unwrap_or_else(|_| type_name(value));
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

#[pyfunction]
#[pyo3(signature = (exit_code=None))]
pub fn stop_recording(py: Python<'_>, exit_code: Option<&Bound<'_, PyAny>>) -> PyResult<Py<PyDict>> {
    let stopped = guard(py, "stop_recording", || {
        let exit_code = exit_code.filter(|code| !code.is_none()).map(|code| {
            code.extract::<i64>().map_err(|_| {
                let message = format!("exit_code must be an int (64-bit) or None, not {}", shown(code));
                RecorderError::new(ErrorCode::InvalidPolicyValue, message).with("option", "exit_code")
            })
        });
        let exit_code = exit_code.transpose()?;
        let session = ACTIVE.borrow_mut(py).ok_or_else(busy)?.take().ok_or_else(not_tracing)?;
        let summary = session.stop(py, exit_code);
        if let Ok(summary) = &summary {
            crate::log!(Level::Info, "recording stopped: trace {} ({} events)", summary.trace_id, summary.counts.events);
        }
        summary
    });
    // After the guard: an error's trailer (written by the guard) still names the trace.
    if ACTIVE.borrow_mut(py).is_some_and(|slot| slot.is_none()) {
        logging::set_active_trace_id(None);
    }
    let summary = stopped?;
    let dict = PyDict::new(py);
    dict.set_item("path", summary.path.map(|p| p.to_string_lossy().into_owned()))?;
    dict.set_item("format", summary.format.name())?;
    dict.set_item("trace_id", summary.trace_id)?;
    dict.set_item("events", summary.counts.events)?;
    dict.set_item("calls", summary.counts.calls)?;
    dict.set_item("steps", summary.counts.steps)?;
    dict.set_item("values", summary.counts.values)?;
    dict.set_item("bytes", summary.bytes)?;
    dict.set_item("partial", summary.partial)?;
    dict.set_item("error", summary.error.map(|err| to_py_err(py, &err).into_value(py)))?;
    Ok(dict.unbind())
}

#[pyfunction]
pub fn flush_recording(py: Python<'_>) -> PyResult<()> {
    guard(py, "flush_recording", || {
        let mut slot = ACTIVE.borrow_mut(py).ok_or_else(busy)?;
        slot.as_mut().ok_or_else(not_tracing)?.flush(py)
    })
}

/// False once a session detached under `disable`, though `stop` still finishes it.
#[pyfunction]
pub fn is_recording(py: Python<'_>) -> PyResult<bool> {
    guard(py, "is_recording", || {
        Ok(ACTIVE.borrow_mut(py).is_some_and(|slot| slot.as_ref().is_some_and(|s| !s.detached())))
    })
}

#[pyfunction]
pub fn active_trace_id(py: Python<'_>) -> PyResult<Option<String>> {
    guard(py, "active_trace_id", || {
        Ok(ACTIVE.borrow_mut(py).and_then(|slot| slot.as_ref().filter(|s| !s.detached()).map(|s| s.trace_id().to_owned())))
    })
}

/// Before `os.fork()`: the active session's writer thread writes what is queued and
/// stops, keeping its state, so the process forks with no thread of the recorder's; it
/// starts again with the parent's next batch.
#[pyfunction]
pub fn pause_for_fork(py: Python<'_>) -> PyResult<()> {
    guard(py, "pause_for_fork", || {
        if let Some(session) = ACTIVE.borrow_mut(py).as_mut().and_then(|slot| slot.as_mut()) {
            session.pause_writer();
        }
        Ok(())
    })
}

/// In a child made by `os.fork()`: the session belongs to the parent (its writer thread
/// does not exist here, its staging directory is the parent's), so the child lets go of
/// it without finishing anything, and runs on unrecorded.
#[pyfunction]
pub fn detach_after_fork(py: Python<'_>) -> PyResult<()> {
    guard(py, "detach_after_fork", || {
        logging::renew_run_id();
        logging::set_active_trace_id(None);
        if let Some(session) = ACTIVE.borrow_mut(py).and_then(|mut slot| slot.take()) {
            session.forget_in_fork_child(py);
        }
        Ok(())
    })
}

fn not_tracing() -> RecorderError {
    RecorderError::new(ErrorCode::NotTracing, "no recording is active")
}

// ---- policy -------------------------------------------------------------------------

/// `configure_policy(**fields)`: validates every given field, then applies them all (or
/// none, if one is bad). `None` leaves a field as it is.
#[pyfunction]
#[pyo3(signature = (**fields))]
pub fn configure_policy(py: Python<'_>, fields: Option<&Bound<'_, PyDict>>) -> PyResult<()> {
    guard(py, "configure_policy", || {
        let mut settings = Vec::new();
        for (name, value) in fields.into_iter().flat_map(|d| d.iter()) {
            let name = name.str().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let field = policy::field(&name)?;
            if value.is_none() {
                continue;
            }
            let text = keyword_text(field, &value)?;
            settings.push(policy::parse(field, &text, field.name)?);
        }
        policy::apply(settings);
        Ok(())
    })
}

/// A keyword's value as the text the field's parser reads: a `str` as it is, a `bool`
/// for a switch, a path-like object (`os.PathLike`) for a path.
fn keyword_text(field: &policy::Field, value: &Bound<'_, PyAny>) -> RecorderResult<String> {
    let wrong_type = || policy::invalid(field, &shown(value), field.name);
    if let Ok(flag) = value.downcast::<PyBool>() {
        return if field.kind == Kind::Switch { Ok(flag.is_true().to_string()) } else { Err(wrong_type()) };
    }
    if let Ok(text) = value.downcast::<PyString>() {
        return text.to_str().map(str::to_owned).map_err(|_| wrong_type());
    }
    if field.kind == Kind::Path {
        let os = value.py().import("os").map_err(|_| wrong_type())?;
        let path = os.call_method1("fspath", (value,)).map_err(|_| wrong_type())?;
        if let Ok(text) = path.downcast::<PyString>() {
            return text.to_str().map(str::to_owned).map_err(|_| wrong_type());
        }
    }
    Err(wrong_type())
}

/// `configure_policy_from_env()`: applies the `CODETRACER_*` variables that are set.
#[pyfunction]
pub fn configure_policy_from_env(py: Python<'_>) -> PyResult<()> {
    guard(py, "configure_policy_from_env", || policy::from_env().map(policy::apply))
}

/// `parse_policy_value(field, text, source)`: what `text` means for `field`, as
/// `configure_policy` takes it (a bool for a switch, else a str); `source` (a flag, a
/// variable) is named in the error.
#[pyfunction]
pub fn parse_policy_value(py: Python<'_>, field: &str, text: &Bound<'_, PyString>, source: &str) -> PyResult<Py<PyAny>> {
    let setting = guard(py, "parse_policy_value", || {
        let field = policy::field(field)?;
        // Undecodable bytes (lone surrogates) of a command line are no accepted value.
        let text = text.to_str().map_err(|_| policy::invalid(field, &text.to_string_lossy(), source))?;
        policy::parse(field, text, source)
    })?;
    let value = match setting {
        Setting::OnRecorderError(choice) => choice.name().into_pyobject(py)?.into_any(),
        Setting::RequireTrace(flag) | Setting::KeepPartialTrace(flag) | Setting::JsonErrors(flag) => {
            PyBool::new(py, flag).to_owned().into_any()
        }
        Setting::LogLevel(filter) => filter.into_pyobject(py)?.into_any(),
        Setting::LogFile(path) => path.to_string_lossy().into_pyobject(py)?.into_any(),
    };
    Ok(value.unbind())
}

#[pyfunction]
pub fn policy_snapshot(py: Python<'_>) -> PyResult<Py<PyDict>> {
    let policy = guard(py, "policy_snapshot", || Ok(policy::current()))?;
    snapshot_dict(py, &policy)
}

#[pyfunction]
pub fn reset_policy(py: Python<'_>) -> PyResult<()> {
    guard(py, "reset_policy", || {
        policy::reset();
        Ok(())
    })
}

fn snapshot_dict(py: Python<'_>, policy: &policy::RecorderPolicy) -> PyResult<Py<PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("on_recorder_error", policy.on_recorder_error.name())?;
    dict.set_item("require_trace", policy.require_trace)?;
    dict.set_item("keep_partial_trace", policy.keep_partial_trace)?;
    dict.set_item("log_level", policy.log_level.as_deref())?;
    dict.set_item("log_file", policy.log_file.as_ref().map(|p| p.to_string_lossy().into_owned()))?;
    dict.set_item("json_errors", policy.json_errors)?;
    Ok(dict.unbind())
}

/// `ERROR_CODES`: every code of `errors.rs`, in order, with the kind it has by default.
pub fn error_codes(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let codes = PyDict::new(py);
    for code in ErrorCode::ALL {
        codes.set_item(code.as_str(), code.default_kind().as_str())?;
    }
    Ok(codes)
}

/// `POLICY_FIELDS`: the table of `policy.rs`, for the CLI and the documentation check.
pub fn policy_fields(py: Python<'_>) -> PyResult<Bound<'_, PyTuple>> {
    let rows = policy::FIELDS.iter().map(|field| {
        let row = PyDict::new(py);
        row.set_item("name", field.name)?;
        row.set_item("env", field.env)?;
        row.set_item("flag", field.flag)?;
        row.set_item("upstream_flag", field.upstream_flag)?;
        row.set_item("kind", field.kind.name())?;
        row.set_item("accepted", field.accepted)?;
        row.set_item("help", field.help)?;
        Ok(row)
    });
    PyTuple::new(py, rows.collect::<PyResult<Vec<_>>>()?)
}

#[pyfunction]
pub fn trace_summary(py: Python<'_>, trace_dir: PathBuf) -> PyResult<Py<PyDict>> {
    let summary = guard(py, "trace_summary", || py.allow_threads(|| trace_check::check(&trace_dir)))?;
    let dict = PyDict::new(py);
    dict.set_item("format", summary.format)?;
    dict.set_item("program", summary.program)?;
    dict.set_item("events", summary.events)?;
    dict.set_item("calls", summary.calls)?;
    dict.set_item("returns", summary.returns)?;
    dict.set_item("steps", summary.steps)?;
    dict.set_item("values", summary.values)?;
    dict.set_item("functions", summary.functions)?;
    dict.set_item("paths", summary.paths)?;
    dict.set_item("bytes", summary.bytes)?;
    Ok(dict.unbind())
}

#[pyfunction]
pub fn trace_events_json(py: Python<'_>, trace_dir: PathBuf) -> PyResult<String> {
    guard(py, "trace_events_json", || {
        py.allow_threads(|| {
            let (events, _, _) = trace_check::load_events(&trace_dir)?;
            serde_json::to_string(&events).map_err(|e| RecorderError::new(ErrorCode::Io, format!("cannot encode events: {e}")))
        })
    })
}

// ---- logging, trailers and metrics ---------------------------------------------------

fn log_level(name: &str) -> RecorderResult<Level> {
    Level::parse(name).ok_or_else(|| {
        RecorderError::new(ErrorCode::InvalidPolicyValue, format!("invalid log level {name:?}; use error, warn, info, debug or trace"))
            .with("option", "level")
            .with("value", name)
    })
}

fn error_code(name: &str) -> RecorderResult<ErrorCode> {
    ErrorCode::ALL.into_iter().find(|code| code.as_str() == name).ok_or_else(|| {
        RecorderError::new(ErrorCode::InvalidPolicyValue, format!("unknown error code {name:?}; see ERROR_CODES"))
            .with("option", "error_code")
            .with("value", name)
    })
}

/// `log(level, message, *, error_code=None, target="codetracer_recorder", file="", line=0)`:
/// one record in the recorder's stream, from Python.
#[pyfunction]
#[pyo3(signature = (level, message, *, error_code=None, target="codetracer_recorder", file="", line=0))]
pub fn log(py: Python<'_>, level: &str, message: &str, error_code: Option<&str>, target: &str, file: &str, line: u32) -> PyResult<()> {
    guard(py, "log", || {
        let level = log_level(level)?;
        let details = logging::Details { error_code: error_code.map(self::error_code).transpose()?, ..Default::default() };
        logging::write(level, target, message.to_owned(), details, file, line);
        Ok(())
    })
}

/// `log_enabled(level, target="codetracer_recorder")`: whether such a record is written.
#[pyfunction]
#[pyo3(signature = (level, target="codetracer_recorder"))]
pub fn log_enabled(py: Python<'_>, level: &str, target: &str) -> PyResult<bool> {
    guard(py, "log_enabled", || Ok(logging::enabled(log_level(level)?, target)))
}

/// Enters a `with_error_code` scope on this thread (the Python context manager).
#[pyfunction]
pub fn push_error_code(py: Python<'_>, code: &str) -> PyResult<()> {
    guard(py, "push_error_code", || {
        logging::push_error_code(error_code(code)?);
        Ok(())
    })
}

/// Leaves the innermost `with_error_code` scope of this thread.
#[pyfunction]
pub fn pop_error_code(py: Python<'_>) -> PyResult<()> {
    guard(py, "pop_error_code", || {
        logging::pop_error_code();
        Ok(())
    })
}

#[pyfunction]
#[pyo3(signature = (trace_id))]
pub fn set_active_trace_id(py: Python<'_>, trace_id: Option<&str>) -> PyResult<()> {
    guard(py, "set_active_trace_id", || {
        logging::set_active_trace_id(trace_id);
        Ok(())
    })
}

#[pyfunction]
pub fn run_id(py: Python<'_>) -> PyResult<String> {
    guard(py, "run_id", || Ok(logging::run_id()))
}

/// `set_log_listener(callable | None)`: see `logging/listener.rs`.
#[pyfunction]
pub fn set_log_listener(py: Python<'_>, listener: &Bound<'_, PyAny>) -> PyResult<()> {
    guard(py, "set_log_listener", || {
        if !listener.is_none() && !listener.is_callable() {
            return Err(RecorderError::new(ErrorCode::InvalidPolicyValue, "the log listener must be callable or None").with("option", "listener"));
        }
        logging::set_listener((!listener.is_none()).then(|| listener.clone().unbind()));
        Ok(())
    })
}

/// `set_trailer_writer(path | callable | None)`: the test hook of `logging/trailer.rs`.
#[pyfunction]
pub fn set_trailer_writer(py: Python<'_>, writer: &Bound<'_, PyAny>) -> PyResult<()> {
    guard(py, "set_trailer_writer", || {
        let writer = if writer.is_none() {
            logging::trailer::Writer::Stderr
        } else if writer.is_callable() {
            logging::trailer::Writer::Callable(writer.clone().unbind())
        } else {
            let path = writer.py().import("os").and_then(|os| os.call_method1("fspath", (writer,))).and_then(|p| p.extract::<PathBuf>());
            logging::trailer::Writer::File(path.map_err(|_| {
                RecorderError::new(ErrorCode::InvalidPolicyValue, "the trailer writer must be a path, a callable or None").with("option", "writer")
            })?)
        };
        logging::trailer::set_writer(writer);
        Ok(())
    })
}

/// `write_trailer(error) -> bool`: the trailer of a `RecorderError` raised in Python (the
/// CLI's), if `json_errors` is on and it has none yet.
#[pyfunction]
pub fn write_trailer(py: Python<'_>, error: &Bound<'_, PyAny>) -> PyResult<bool> {
    if error.hasattr(crate::ffi::TRAILER_WRITTEN).unwrap_or(false) {
        return Ok(false);
    }
    let text = |name: &str| error.getattr(name).and_then(|v| v.extract::<String>()).unwrap_or_default();
    let code = error_code(&text("code")).unwrap_or(ErrorCode::InvalidPolicyValue);
    let message = error.str().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let mut err = RecorderError::new(code, message.strip_prefix(&format!("[{}] ", code.as_str())).unwrap_or(&message));
    if let Ok(kind) = error.getattr("kind").and_then(|v| v.extract::<String>()) {
        err.kind = [ErrorKind::Usage, ErrorKind::Environment, ErrorKind::Target, ErrorKind::Internal]
            .into_iter()
            .find(|k| k.as_str() == kind)
            .unwrap_or(err.kind);
    }
    if let Ok(context) = error.getattr("context").and_then(|c| c.extract::<std::collections::BTreeMap<String, String>>()) {
        err.context = context;
    }
    let written = logging::trailer::emit(py, &err);
    if written {
        let _ = error.setattr(crate::ffi::TRAILER_WRITTEN, true);
    }
    Ok(written)
}

/// Adapts a Python object with the three methods to `RecorderMetrics`. Calls from inside
/// the sink (re-entrant) are not passed on, and an exception it raises is logged (warn).
struct PyMetrics(Py<PyAny>);

thread_local! {
    static IN_PY_METRICS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

impl PyMetrics {
    fn call(&self, method: &str, args: impl for<'py> FnOnce(Python<'py>) -> PyResult<Bound<'py, PyTuple>>) {
        if IN_PY_METRICS.with(std::cell::Cell::get) {
            return;
        }
        Python::with_gil(|py| {
            IN_PY_METRICS.with(|c| c.set(true));
            let outcome = args(py).and_then(|args| self.0.bind(py).call_method1(method, args));
            IN_PY_METRICS.with(|c| c.set(false));
            if let Err(err) = outcome {
                crate::log!(Level::Warn, "the metrics sink's {method} raised {}", err.value(py));
            }
        });
    }
}

impl metrics::RecorderMetrics for PyMetrics {
    fn record_dropped_event(&self, reason: metrics::DropReason) {
        self.call("record_dropped_event", |py| PyTuple::new(py, [reason.as_str()]));
    }
    fn record_detach(&self, reason: metrics::DetachReason, error_code: ErrorCode) {
        self.call("record_detach", |py| PyTuple::new(py, [reason.as_str(), error_code.as_str()]));
    }
    fn record_panic(&self, site: &str) {
        self.call("record_panic", |py| PyTuple::new(py, [site]));
    }
}

/// `install_metrics(sink | None)`.
#[pyfunction]
pub fn install_metrics(py: Python<'_>, sink: &Bound<'_, PyAny>) -> PyResult<()> {
    guard(py, "install_metrics", || {
        if sink.is_none() {
            metrics::uninstall();
            return Ok(());
        }
        for method in ["record_dropped_event", "record_detach", "record_panic"] {
            if !sink.getattr(method).is_ok_and(|m| m.is_callable()) {
                return Err(RecorderError::new(ErrorCode::InvalidPolicyValue, format!("a metrics sink needs a {method} method"))
                    .with("option", "sink")
                    .with("missing", method));
            }
        }
        metrics::install(std::sync::Arc::new(PyMetrics(sink.clone().unbind())));
        Ok(())
    })
}

/// `metrics_snapshot()`: the totals of `metrics.rs`.
#[pyfunction]
pub fn metrics_snapshot(py: Python<'_>) -> PyResult<Py<PyDict>> {
    let snapshot = metrics::snapshot();
    let dropped = PyDict::new(py);
    for (reason, n) in snapshot.dropped {
        dropped.set_item(reason.as_str(), n)?;
    }
    let detaches = PyDict::new(py);
    for (reason, code, n) in snapshot.detaches {
        detaches.set_item((reason.as_str(), code.as_str()), n)?;
    }
    let panics = PyDict::new(py);
    for (site, n) in snapshot.panics {
        panics.set_item(site, n)?;
    }
    let dict = PyDict::new(py);
    dict.set_item("dropped_events", dropped)?;
    dict.set_item("detaches", detaches)?;
    dict.set_item("panics", panics)?;
    Ok(dict.unbind())
}
