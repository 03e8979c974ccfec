//! The Python-callable entry points (`start_recording`, `stop_recording`,
//! `configure_policy`, `trace_summary`, …), as documented in
//! `codetracer_recorder/_native.pyi`. Each runs through the `ffi::guard`, so errors arrive
//! in Python as the recorder's exception classes; arguments that come from the user or
//! the program are taken as plain objects and checked inside the guard, so a bad one is
//! a classified error too, never a bare `TypeError`.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyString, PyTuple};

use crate::errors::{ErrorCode, RecorderError, RecorderResult};
use crate::fault_injection;
use crate::ffi::{guard, to_py_err};
use crate::policy::{self, Kind, Setting};
use crate::recorder::writer::Format;
use crate::recorder::{Capture, Session, SessionConfig, ACTIVE};
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
    include: Vec<String>,
    exclude: Vec<String>,
    skip_prefixes: Vec<String>,
    never_prefixes: Vec<String>,
    capture: &str,
) -> PyResult<String> {
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
        }
        let config = SessionConfig {
            trace_dir,
            format: Format::parse(format)?,
            program: target_text(program, "the program name (sys.argv[0])")?,
            args: target_args(args)?,
            include,
            exclude,
            skip_prefixes,
            never_prefixes,
            capture: Capture::parse(capture)?,
            policy: policy::current(),
        };
        let session = Session::start(py, config)?;
        let trace_id = session.trace_id().to_owned();
        *slot = Some(session);
        Ok(trace_id)
    })
}

/// The program's arguments (from `sys.argv` unless the caller gave them, in which case
/// the Python layer has checked them): each must be a `str`. Text that is not valid
/// UTF-8 (undecodable bytes of the command line) is kept with replacement characters.
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
    Ok(text.to_string_lossy().into_owned())
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
    let summary = guard(py, "stop_recording", || {
        let exit_code = exit_code.filter(|code| !code.is_none()).map(|code| {
            code.extract::<i64>().map_err(|_| {
                let message = format!("exit_code must be an int (64-bit) or None, not {}", shown(code));
                RecorderError::new(ErrorCode::InvalidPolicyValue, message).with("option", "exit_code")
            })
        });
        let exit_code = exit_code.transpose()?;
        let session = ACTIVE.borrow_mut(py).ok_or_else(busy)?.take().ok_or_else(not_tracing)?;
        session.stop(py, exit_code)
    })?;
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

/// In a child made by `os.fork()`: the session belongs to the parent (its writer thread
/// does not exist here, its staging directory is the parent's), so the child lets go of
/// it without finishing anything, and runs on unrecorded.
#[pyfunction]
pub fn detach_after_fork(py: Python<'_>) -> PyResult<()> {
    guard(py, "detach_after_fork", || {
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
pub fn parse_policy_value(py: Python<'_>, field: &str, text: &str, source: &str) -> PyResult<Py<PyAny>> {
    let setting = guard(py, "parse_policy_value", || policy::parse(policy::field(field)?, text, source))?;
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
