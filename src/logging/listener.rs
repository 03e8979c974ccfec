//! The Python log listener: a callable that receives each record written, as a dict with
//! the keys of the JSON line (`ts`, `level`, `target`, `run_id`, `trace_id`, `message`,
//! `error_code`, `error_kind`, `context`, `file`, `line`; absent fields are `None`).
//!
//! It is how the OpenTelemetry bridge turns records into OTel log records. Records are
//! only written off the per-event path (failures, detach, session start and stop), so the
//! call costs nothing per event. It runs on the thread that wrote the record, with the GIL;
//! a record written by the listener itself is not passed to it again (no recursion), and an
//! exception it raises is written as a warning record, never raised into the program.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};

use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::record::Record;

static INSTALLED: AtomicBool = AtomicBool::new(false);
static LISTENER: Mutex<Option<Py<PyAny>>> = Mutex::new(None);

thread_local! {
    static DELIVERING: Cell<bool> = const { Cell::new(false) };
}

/// Installs `listener` (`None` removes it).
pub fn set(listener: Option<Py<PyAny>>) {
    let mut slot = LISTENER.lock().unwrap_or_else(PoisonError::into_inner);
    INSTALLED.store(listener.is_some(), Ordering::SeqCst);
    // The old listener is dropped after the lock is released (dropping may run Python code).
    let old = std::mem::replace(&mut *slot, listener);
    drop(slot);
    drop(old);
}

/// Passes `record` to the listener, if one is installed. Returns the listener's failure
/// message, for the caller to write as a warning (not to the listener).
pub fn deliver(record: &Record) -> Option<String> {
    if !INSTALLED.load(Ordering::Relaxed) || DELIVERING.with(Cell::get) {
        return None;
    }
    Python::with_gil(|py| {
        let listener = LISTENER.lock().unwrap_or_else(PoisonError::into_inner).as_ref().map(|l| l.clone_ref(py))?;
        DELIVERING.with(|d| d.set(true));
        let outcome = as_dict(py, record).and_then(|dict| listener.call1(py, (dict,)));
        DELIVERING.with(|d| d.set(false));
        outcome.err().map(|err| format!("the log listener raised {}", err.value(py)))
    })
}

fn as_dict<'py>(py: Python<'py>, record: &Record) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("ts", &record.ts)?;
    dict.set_item("level", record.level)?;
    dict.set_item("target", &record.target)?;
    dict.set_item("run_id", &record.run_id)?;
    dict.set_item("trace_id", record.trace_id.as_deref())?;
    dict.set_item("message", &record.message)?;
    dict.set_item("error_code", record.error_code)?;
    dict.set_item("error_kind", record.error_kind)?;
    let context = PyDict::new(py);
    for (key, value) in &record.context {
        context.set_item(key, value)?;
    }
    dict.set_item("context", context)?;
    dict.set_item("file", &record.file)?;
    dict.set_item("line", record.line)?;
    Ok(dict)
}
