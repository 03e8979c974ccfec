//! The running frame's variables, read the way the interpreter reads them.
//!
//! A `sys.monitoring` callback receives the code object, not the frame; the frame that
//! fired the event is the thread's current interpreter frame, because the callbacks are
//! C functions and push no Python frame of their own. Its variables are read from the
//! frame's fast-locals array by index (names and kinds per index come from the code
//! object, once per code object in `code_registry.rs`), through the small C file
//! `src/c/frame_access.c`, which is compiled against the running interpreter's own
//! headers. This creates no frame object, no dict, and leaves the frame untouched.

use std::os::raw::c_int;

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

/// CPython's `_PyInterpreterFrame`, only ever handled by pointer.
#[repr(C)]
struct InterpreterFrame {
    _opaque: [u8; 0],
}

extern "C" {
    fn ct_current_frame() -> *mut InterpreterFrame;
    fn ct_frame_code(frame: *mut InterpreterFrame) -> *mut ffi::PyObject;
    fn ct_frame_local(frame: *mut InterpreterFrame, index: ffi::Py_ssize_t, is_cell: c_int) -> *mut ffi::PyObject;
    fn ct_frame_locals_mapping(frame: *mut InterpreterFrame) -> *mut ffi::PyObject;
    fn ct_frame_globals(frame: *mut InterpreterFrame) -> *mut ffi::PyObject;
    fn ct_code_localsplus_names(code: *mut ffi::PyObject) -> *mut ffi::PyObject;
    fn ct_code_localsplus_kinds(code: *mut ffi::PyObject) -> *mut ffi::PyObject;
}

/// A fast-local slot that holds a cell (a variable shared with closures); its value is
/// the cell's content. `CO_FAST_CELL | CO_FAST_FREE` in CPython's `pycore_code.h`.
const CELL_KINDS: u8 = 0x40 | 0x80;

/// The frame running when an event fired; valid only during that callback.
pub struct RunningFrame<'py> {
    frame: *mut InterpreterFrame,
    py: Python<'py>,
}

/// The current frame, if it runs `code` (it always should; this guards against a
/// frame that is not a Python function's).
pub fn running<'py>(py: Python<'py>, code: *mut ffi::PyObject) -> Option<RunningFrame<'py>> {
    // SAFETY: the GIL is held, so the thread state and its frame stack are stable.
    let frame = unsafe { ct_current_frame() };
    // SAFETY: a non-null current frame is a live interpreter frame.
    (!frame.is_null() && unsafe { ct_frame_code(frame) } == code).then_some(RunningFrame { frame, py })
}

impl<'py> RunningFrame<'py> {
    /// The value in fast-local slot `index` (borrowed), or `None` while it is unbound.
    /// `kind` is the slot's kind byte from [`localsplus_layout`].
    pub fn local(&self, index: usize, kind: u8) -> Option<*mut ffi::PyObject> {
        // SAFETY: `index` comes from the frame's own code object's layout, so it lies
        // within the frame's fast locals; the GIL is held.
        let value = unsafe { ct_frame_local(self.frame, index as ffi::Py_ssize_t, c_int::from(kind & CELL_KINDS != 0)) };
        (!value.is_null()).then_some(value)
    }

    /// The locals mapping of a frame that keeps its variables in one (module and class
    /// bodies), borrowed.
    pub fn mapping(&self) -> Option<*mut ffi::PyObject> {
        // SAFETY: a live frame; the pointer is borrowed for the callback's duration.
        let mapping = unsafe { ct_frame_locals_mapping(self.frame) };
        (!mapping.is_null()).then_some(mapping)
    }

    /// `__name__` of the frame's module, or `""`.
    pub fn module_name(&self) -> String {
        // SAFETY: a live frame's globals are a dict (borrowed).
        let globals = unsafe { ct_frame_globals(self.frame) };
        if globals.is_null() {
            return String::new();
        }
        // SAFETY: `globals` is a valid dict for the callback's duration.
        let globals = unsafe { Bound::from_borrowed_ptr(self.py, globals) };
        globals
            .get_item("__name__")
            .ok()
            .and_then(|name| name.extract::<String>().ok())
            .unwrap_or_default()
    }
}

/// Names and kinds of a code object's fast locals, in slot order.
pub fn localsplus_layout<'py>(py: Python<'py>, code: &Bound<'py, PyAny>) -> Option<(Bound<'py, PyTuple>, Vec<u8>)> {
    // SAFETY: `code` is a code object (the event's); both fields are borrowed and live
    // as long as the code object.
    let (names, kinds) = unsafe { (ct_code_localsplus_names(code.as_ptr()), ct_code_localsplus_kinds(code.as_ptr())) };
    if names.is_null() || kinds.is_null() {
        return None;
    }
    // SAFETY: valid borrowed objects (see above).
    let (names, kinds) = unsafe { (Bound::from_borrowed_ptr(py, names), Bound::from_borrowed_ptr(py, kinds)) };
    let names = names.downcast_into::<PyTuple>().ok()?;
    let kinds = kinds.downcast::<PyBytes>().ok()?.as_bytes().to_vec();
    (names.len() == kinds.len()).then_some((names, kinds))
}
