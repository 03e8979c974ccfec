//! Error trailers: with the policy's `json_errors`, each `RecorderError` that crosses
//! into Python (`ffi::to_py_err`) is written as one JSON line, flushed at once:
//! `{"run_id", "trace_id", "error_code", "error_kind", "message", "context"}`
//! (`trace_id` is `null` outside a session).
//!
//! The line goes to stderr unless a test hook redirected it (`set_writer`: a file path,
//! appended to, or a Python callable, called with the line as a `str` without its newline).
//! A writer that fails falls back to stderr, so the trailer is not lost.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};

use pyo3::prelude::*;
use serde::Serialize;

use super::{scope, sink};
use crate::errors::RecorderError;
use crate::policy;

pub enum Writer {
    Stderr,
    File(PathBuf),
    Callable(Py<PyAny>),
}

static WRITER: Mutex<Writer> = Mutex::new(Writer::Stderr);

/// Redirects the trailers (the test hook); `Writer::Stderr` restores the default.
pub fn set_writer(writer: Writer) {
    let old = std::mem::replace(&mut *WRITER.lock().unwrap_or_else(PoisonError::into_inner), writer);
    drop(old);
}

#[derive(Serialize)]
struct Trailer<'a> {
    run_id: String,
    trace_id: Option<String>,
    error_code: &'static str,
    error_kind: &'static str,
    message: &'a str,
    context: &'a BTreeMap<String, String>,
}

/// The trailer line of `err` (no newline).
pub fn line(err: &RecorderError) -> String {
    let trailer = Trailer {
        run_id: scope::run_id(),
        trace_id: scope::active_trace_id(),
        error_code: err.code.as_str(),
        error_kind: err.kind.as_str(),
        message: &err.message,
        context: &err.context,
    };
    serde_json::to_string(&trailer).unwrap_or_else(|_| format!("{{\"error_code\":\"{}\"}}", err.code))
}

/// Writes the trailer of `err` if the policy asks for trailers. Returns whether it did.
pub fn emit(py: Python<'_>, err: &RecorderError) -> bool {
    if !policy::current().json_errors {
        return false;
    }
    write(py, &line(err));
    true
}

fn write(py: Python<'_>, text: &str) {
    let line = format!("{text}\n");
    let callable = {
        let writer = WRITER.lock().unwrap_or_else(PoisonError::into_inner);
        match &*writer {
            Writer::Stderr => None,
            Writer::File(path) => {
                let appended = std::fs::OpenOptions::new()
                    .append(true)
                    .create(true)
                    .open(path)
                    .and_then(|mut file| file.write_all(line.as_bytes()).and_then(|()| file.flush()));
                if appended.is_ok() {
                    return;
                }
                None
            }
            // Called after the lock is released: the callable may set another writer.
            Writer::Callable(callable) => Some(callable.clone_ref(py)),
        }
    };
    if callable.is_some_and(|callable| callable.call1(py, (text,)).is_ok()) {
        return;
    }
    sink::write_stderr(line.as_bytes());
}
