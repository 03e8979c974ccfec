//! The Python-callable entry points (`start_recording`, `stop_recording`, `trace_summary`,
//! …), as documented in `codetracer_recorder/_native.pyi`. Each runs through the
//! `ffi::guard`, so errors arrive in Python as the recorder's exception classes.

use std::path::PathBuf;

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{ErrorCode, RecorderError};
use crate::ffi::guard;
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
    program: String,
    args: Vec<String>,
    include: Vec<String>,
    exclude: Vec<String>,
    skip_prefixes: Vec<String>,
    never_prefixes: Vec<String>,
    capture: &str,
) -> PyResult<String> {
    guard(py, "start_recording", || {
        let mut slot = ACTIVE.borrow_mut(py).ok_or_else(busy)?;
        if let Some(active) = slot.as_ref() {
            return Err(RecorderError::new(
                ErrorCode::AlreadyTracing,
                format!("a recording is already active (trace {}); stop it before starting another", active.trace_id()),
            )
            .with("trace_id", active.trace_id()));
        }
        let config = SessionConfig {
            trace_dir,
            format: Format::parse(format)?,
            program,
            args,
            include,
            exclude,
            skip_prefixes,
            never_prefixes,
            capture: Capture::parse(capture)?,
        };
        let session = Session::start(py, config)?;
        let trace_id = session.trace_id().to_owned();
        *slot = Some(session);
        Ok(trace_id)
    })
}

#[pyfunction]
#[pyo3(signature = (exit_code=None))]
pub fn stop_recording(py: Python<'_>, exit_code: Option<i64>) -> PyResult<Py<PyDict>> {
    let summary = guard(py, "stop_recording", || {
        let session = ACTIVE.borrow_mut(py).ok_or_else(busy)?.take().ok_or_else(not_tracing)?;
        session.stop(py, exit_code)
    })?;
    let dict = PyDict::new(py);
    dict.set_item("path", summary.path.to_string_lossy())?;
    dict.set_item("format", summary.format.name())?;
    dict.set_item("trace_id", summary.trace_id)?;
    dict.set_item("events", summary.counts.events)?;
    dict.set_item("calls", summary.counts.calls)?;
    dict.set_item("steps", summary.counts.steps)?;
    dict.set_item("values", summary.counts.values)?;
    dict.set_item("bytes", summary.bytes)?;
    Ok(dict.unbind())
}

#[pyfunction]
pub fn flush_recording(py: Python<'_>) -> PyResult<()> {
    guard(py, "flush_recording", || {
        let mut slot = ACTIVE.borrow_mut(py).ok_or_else(busy)?;
        slot.as_mut().ok_or_else(not_tracing)?.flush()
    })
}

#[pyfunction]
pub fn is_recording(py: Python<'_>) -> bool {
    ACTIVE.borrow_mut(py).is_some_and(|slot| slot.is_some())
}

#[pyfunction]
pub fn active_trace_id(py: Python<'_>) -> Option<String> {
    ACTIVE.borrow_mut(py).and_then(|slot| slot.as_ref().map(|s| s.trace_id().to_owned()))
}

/// In a child made by `os.fork()`: the session belongs to the parent (its writer thread
/// does not exist here, its staging directory is the parent's), so the child lets go of
/// it without finishing anything, and runs on unrecorded.
#[pyfunction]
pub fn detach_after_fork(py: Python<'_>) {
    if let Some(session) = ACTIVE.borrow_mut(py).and_then(|mut slot| slot.take()) {
        session.forget_in_fork_child(py);
    }
}

fn not_tracing() -> RecorderError {
    RecorderError::new(ErrorCode::NotTracing, "no recording is active")
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
