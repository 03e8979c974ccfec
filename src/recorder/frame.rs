//! Reading the running frame: its locals, one argument, its module's name.
//!
//! A `sys.monitoring` callback receives the code object, not the frame; the frame that
//! fired the event is the thread's current frame, because the callbacks are C functions
//! and push no Python frame of their own. These C-API calls are declared here because
//! PyO3's bindings do not cover them; each exists in every interpreter we build for
//! (3.12+), `PyEval_GetFrameLocals` from 3.13.

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyDict;

extern "C" {
    fn PyFrame_GetGlobals(frame: *mut ffi::PyFrameObject) -> *mut ffi::PyObject;
    fn PyFrame_GetVar(frame: *mut ffi::PyFrameObject, name: *mut ffi::PyObject) -> *mut ffi::PyObject;
    #[cfg(not(Py_3_13))]
    fn PyFrame_GetLocals(frame: *mut ffi::PyFrameObject) -> *mut ffi::PyObject;
    #[cfg(Py_3_13)]
    fn PyEval_GetFrameLocals() -> *mut ffi::PyObject;
}

/// The calling thread's current Python frame (borrowed), if any.
pub fn current(_py: Python<'_>) -> Option<*mut ffi::PyFrameObject> {
    // SAFETY: the GIL is held (the token proves it).
    let frame = unsafe { ffi::PyEval_GetFrame() };
    (!frame.is_null()).then_some(frame)
}

/// The locals of the current frame as a dict (a snapshot on 3.13; on 3.12 the frame's
/// own `f_locals`, refreshed from the fast locals).
pub fn locals<'py>(py: Python<'py>, frame: *mut ffi::PyFrameObject) -> Option<Bound<'py, PyDict>> {
    #[cfg(not(Py_3_13))]
    // SAFETY: `frame` is the live current frame and the GIL is held.
    let raw = unsafe { PyFrame_GetLocals(frame) };
    #[cfg(Py_3_13)]
    let raw = {
        let _ = frame;
        // SAFETY: the GIL is held; this reads the thread's current frame.
        unsafe { PyEval_GetFrameLocals() }
    };
    // SAFETY: `raw` is a new reference or null with an exception set.
    let object = unsafe { Bound::from_owned_ptr_or_err(py, raw) }.ok()?;
    object.downcast_into::<PyDict>().ok()
}

/// The value of one local variable (`None` if unbound).
pub fn var<'py>(py: Python<'py>, frame: *mut ffi::PyFrameObject, name: &Bound<'py, PyAny>) -> Option<Bound<'py, PyAny>> {
    // SAFETY: `frame` is the live current frame, `name` a str, and the GIL is held.
    let raw = unsafe { PyFrame_GetVar(frame, name.as_ptr()) };
    // SAFETY: a new reference or null with an exception set (cleared by `.ok()`).
    unsafe { Bound::from_owned_ptr_or_err(py, raw) }.ok()
}

/// `__name__` of the frame's module, or `""`.
pub fn module_name(py: Python<'_>, frame: *mut ffi::PyFrameObject) -> String {
    // SAFETY: `frame` is the live current frame and the GIL is held.
    let raw = unsafe { PyFrame_GetGlobals(frame) };
    // SAFETY: a new reference or null.
    let Ok(globals) = (unsafe { Bound::from_owned_ptr_or_err(py, raw) }) else { return String::new() };
    globals
        .get_item("__name__")
        .ok()
        .and_then(|name| name.extract::<String>().ok())
        .unwrap_or_default()
}
