//! The one door between Python and the Rust core.
//!
//! Every Python-callable entry point runs its body through [`guard`]: a panic is caught
//! and becomes an `InternalError` with `ERR_PANIC`, and a [`RecorderError`] becomes the
//! Python exception class of its kind, carrying `code`, `kind` and `context`. A caught
//! panic is counted (`metrics::record_panic`), and with the policy's `json_errors` each
//! error that crosses is also written as a JSON trailer (`logging::trailer`).

use std::panic::{catch_unwind, AssertUnwindSafe};

use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{ErrorCode, ErrorKind, RecorderError, RecorderResult};

/// The Python exception classes, declared once; `codetracer_recorder.errors` re-exports them.
pub mod exceptions {
    use pyo3::create_exception;
    use pyo3::exceptions::PyException;

    create_exception!(
        codetracer_recorder,
        RecorderError,
        PyException,
        "Base of every error the recorder raises; has `code`, `kind` and `context`."
    );
    create_exception!(codetracer_recorder, UsageError, RecorderError, "The caller asked for something invalid.");
    create_exception!(
        codetracer_recorder,
        EnvironmentError,
        RecorderError,
        "The machine got in the way. The recorder's class, not Python's alias of OSError."
    );
    create_exception!(
        codetracer_recorder,
        TargetError,
        RecorderError,
        "The recorded program did something the recorder cannot follow."
    );
    create_exception!(codetracer_recorder, InternalError, RecorderError, "A bug in the recorder (a caught panic is `ERR_PANIC`).");
}

/// Runs `body`, turning a panic into `ERR_PANIC` and an error into its Python class.
pub fn guard<T>(py: Python<'_>, site: &'static str, body: impl FnOnce() -> RecorderResult<T>) -> PyResult<T> {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(err)) => Err(to_py_err(py, &err)),
        Err(payload) => {
            crate::metrics::record_panic(site);
            Err(to_py_err(py, &panic_error(site, payload.as_ref())))
        }
    }
}

/// The `RecorderError` describing a caught panic.
pub fn panic_error(site: &'static str, payload: &(dyn std::any::Any + Send)) -> RecorderError {
    let detail = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".to_owned());
    RecorderError::new(ErrorCode::Panic, format!("internal error in {site}: {detail}")).with("site", site)
}

/// The attribute set on an exception whose trailer was written, so the CLI does not write
/// it a second time (`_native.write_trailer`).
pub const TRAILER_WRITTEN: &str = "_codetracer_trailer_written";

/// Builds the Python exception for `err`: the class of its kind, with attributes set; with
/// `json_errors`, writes its trailer.
pub fn to_py_err(py: Python<'_>, err: &RecorderError) -> PyErr {
    let message = err.to_string();
    let py_err = match err.kind {
        ErrorKind::Usage => exceptions::UsageError::new_err(message),
        ErrorKind::Environment => exceptions::EnvironmentError::new_err(message),
        ErrorKind::Target => exceptions::TargetError::new_err(message),
        ErrorKind::Internal => exceptions::InternalError::new_err(message),
    };
    let value = py_err.value(py);
    // Setting plain attributes on a fresh exception instance cannot fail in practice;
    // if it did, the exception still carries the code in its message.
    let _ = value.setattr("code", err.code.as_str());
    let _ = value.setattr("kind", err.kind.as_str());
    let context = PyDict::new(py);
    for (key, val) in &err.context {
        let _ = context.set_item(key, val);
    }
    let _ = value.setattr("context", context);
    if crate::logging::trailer::emit(py, err) {
        let _ = value.setattr(TRAILER_WRITTEN, true);
    }
    py_err
}

/// Converts a Python exception raised inside the core (for example by a `sys.monitoring`
/// call) into a classified error.
pub fn from_py_err(py: Python<'_>, code: ErrorCode, what: &str, err: &PyErr) -> RecorderError {
    let python_error = err.get_type(py).name().map(|n| n.to_string()).unwrap_or_default();
    RecorderError::new(code, format!("{what}: {}", err.value(py))).with("python_error", python_error)
}
