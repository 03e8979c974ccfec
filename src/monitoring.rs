//! The `sys.monitoring` side: the tool id, the callbacks, and which events are on.
//!
//! This is the per-event path, top to bottom. Globally only `PY_START` is on, plus
//! `PY_THROW` and `PY_UNWIND` (which cannot be set per code object). At the first
//! `PY_START` of a code object the session decides whether it is recorded: if not, the
//! callback returns `DISABLE` and that code never calls us again; if so, its local
//! events (`PY_RESUME`, `PY_RETURN`, `PY_YIELD`, `LINE`) are switched on for that code
//! object alone. A start calls `restart_events()` to forget an earlier session's
//! `DISABLE`s, and only then: it re-enables the `DISABLE`d events of every tool, not
//! only ours, so the first session of a process (the CLI's) leaves other tools' alone.
//!
//! Each callback borrows the active session (`recorder::ACTIVE`), hands the event to it,
//! and maps the outcome: a recorder failure detaches the recorder (it is reported at
//! `stop`), it is never raised into the program.

use std::sync::atomic::{AtomicBool, Ordering};

use pyo3::ffi;
use pyo3::prelude::*;
use pyo3::types::PyModule;
use pyo3::Borrowed;

use crate::errors::{ErrorCode, RecorderError, RecorderResult};
use crate::fault_injection;
use crate::ffi::{from_py_err, panic_error};
use crate::recorder::{Exit, Session, ACTIVE};

/// Whether a callback returned `DISABLE` since the last `restart_events()`.
static DISABLED_SINCE_RESTART: AtomicBool = AtomicBool::new(false);

/// Our `sys.monitoring` tool id (0–2 and 5 are claimed by debuggers, coverage,
/// profilers and optimizers by convention).
pub const TOOL_ID: u8 = 3;
pub const TOOL_NAME: &str = "codetracer";

// Event numbers as in `sys.monitoring.events` (stable since 3.12).
const PY_START: u32 = 1 << 0;
const PY_RESUME: u32 = 1 << 1;
const PY_RETURN: u32 = 1 << 2;
const PY_YIELD: u32 = 1 << 3;
const LINE: u32 = 1 << 5;
const PY_UNWIND: u32 = 1 << 12;
const PY_THROW: u32 = 1 << 13;

const GLOBAL_EVENTS: u32 = PY_START | PY_UNWIND | PY_THROW;
const LOCAL_EVENTS: u32 = PY_RESUME | PY_RETURN | PY_YIELD | LINE;

/// Handles on `sys.monitoring`, taken once per session.
pub struct Monitoring {
    module: Py<PyModule>,
    disable: Py<PyAny>,
}

impl Monitoring {
    pub fn new(py: Python<'_>) -> RecorderResult<Self> {
        let module = py
            .import("sys")
            .and_then(|sys| sys.getattr("monitoring"))
            .and_then(|m| m.downcast_into::<PyModule>().map_err(PyErr::from))
            .map_err(|err| from_py_err(py, ErrorCode::TracerInstallConflict, "sys.monitoring is not available", &err))?;
        let disable = module
            .getattr("DISABLE")
            .map_err(|err| from_py_err(py, ErrorCode::TracerInstallConflict, "sys.monitoring.DISABLE is missing", &err))?;
        Ok(Monitoring { module: module.unbind(), disable: disable.unbind() })
    }

    /// Claims the tool id and registers the callbacks; fails if another tool holds the id.
    pub fn install(&self, py: Python<'_>) -> RecorderResult<()> {
        let m = self.module.bind(py);
        let fail = |err: PyErr| from_py_err(py, ErrorCode::TracerInstallConflict, "cannot install the sys.monitoring callbacks", &err);
        let holder = m.call_method1("get_tool", (TOOL_ID,)).map_err(fail)?;
        if !holder.is_none() {
            return Err(RecorderError::new(
                ErrorCode::TracerInstallConflict,
                format!("sys.monitoring tool id {TOOL_ID} is already in use by {holder}; stop that tool first"),
            )
            .with("tool_id", TOOL_ID)
            .with("holder", holder));
        }
        m.call_method1("use_tool_id", (TOOL_ID, TOOL_NAME)).map_err(fail)?;
        for (event, def) in &CALLBACKS {
            let def = std::ptr::from_ref(&def.0).cast_mut();
            // SAFETY: `def` is a static definition; CPython only reads it.
            let raw = unsafe { ffi::PyCFunction_NewEx(def, std::ptr::null_mut(), std::ptr::null_mut()) };
            // SAFETY: a new reference, or null with an exception set.
            let callback = unsafe { Bound::from_owned_ptr_or_err(py, raw) }.map_err(fail)?;
            m.call_method1("register_callback", (TOOL_ID, *event, callback)).map_err(fail)?;
        }
        if DISABLED_SINCE_RESTART.swap(false, Ordering::Relaxed) {
            m.call_method0("restart_events").map_err(fail)?;
        }
        m.call_method1("set_events", (TOOL_ID, GLOBAL_EVENTS)).map_err(fail)?;
        Ok(())
    }

    pub fn enable_local_events(&self, py: Python<'_>, code: &Bound<'_, PyAny>) -> RecorderResult<()> {
        self.module
            .bind(py)
            .call_method1("set_local_events", (TOOL_ID, code, LOCAL_EVENTS))
            .map(drop)
            .map_err(|err| from_py_err(py, ErrorCode::FrameIntrospectionFailed, "cannot enable events for a code object", &err))
    }

    /// Switches every event off (after a failure), globally and on each `recorded` code
    /// object, keeping the callbacks and the tool id until `uninstall`. Safe inside a
    /// callback: nothing is unregistered, so no running callback is freed.
    pub fn silence(&self, py: Python<'_>, recorded: &[Bound<'_, PyAny>]) {
        let m = self.module.bind(py);
        let _ = m.call_method1("set_events", (TOOL_ID, 0));
        for code in recorded {
            let _ = m.call_method1("set_local_events", (TOOL_ID, code, 0));
        }
    }

    /// Switches our events off everywhere, unregisters the callbacks and frees the id.
    /// Best effort: each step is attempted even if an earlier one failed.
    pub fn uninstall(&self, py: Python<'_>, recorded: &[Bound<'_, PyAny>]) {
        let m = self.module.bind(py);
        let owner = m.call_method1("get_tool", (TOOL_ID,)).ok();
        if owner.is_none_or(|name| name.extract::<String>().ok().as_deref() != Some(TOOL_NAME)) {
            return;
        }
        let _ = m.call_method1("set_events", (TOOL_ID, 0));
        for code in recorded {
            let _ = m.call_method1("set_local_events", (TOOL_ID, code, 0));
        }
        for (event, _) in &CALLBACKS {
            let _ = m.call_method1("register_callback", (TOOL_ID, *event, py.None()));
        }
        let _ = m.call_method1("free_tool_id", (TOOL_ID,));
    }

    pub fn disable<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.disable.bind(py).clone()
    }
}

/// Runs `handle` on the active session. A failure or a panic (also one injected by
/// `fault_injection`, test builds only), or a writer that stopped during the event,
/// detaches the recorder (`Session::fail`/`detach`; the policy decides how it is
/// reported); the program never sees it. No session (or a failed one): nothing.
fn dispatch<T>(py: Python<'_>, site: &'static str, default: T, handle: impl FnOnce(&mut Session) -> RecorderResult<T>) -> T {
    let Some(mut slot) = ACTIVE.borrow_mut(py) else { return default };
    let Some(session) = slot.as_mut().filter(|s| !s.failed()) else { return default };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        fault_injection::hit(site)?;
        handle(session)
    }));
    match outcome {
        Ok(Ok(value)) if !session.failed() => value,
        Ok(Ok(_)) => {
            session.detach(py);
            default
        }
        Ok(Err(err)) => {
            session.fail(py, err);
            default
        }
        Err(payload) => {
            crate::metrics::record_panic(site);
            session.fail(py, panic_error(site, payload.as_ref()));
            default
        }
    }
}

// ---- the callbacks ---------------------------------------------------------------
//
// Plain C-ABI `METH_FASTCALL` functions, registered through static `PyMethodDef`s: the
// interpreter calls them with a borrowed argument vector and nothing in between (no
// argument parsing, no wrapper). They always return a new reference (`None`, or
// `DISABLE` from `PY_START`) and never raise.

type FastCall = unsafe extern "C" fn(*mut ffi::PyObject, *mut *mut ffi::PyObject, ffi::Py_ssize_t) -> *mut ffi::PyObject;

/// A `PyMethodDef` that can live in a `static` (its raw pointers are never written).
struct MethodDef(ffi::PyMethodDef);

// SAFETY: the definitions are immutable after construction and only read by CPython.
unsafe impl Sync for MethodDef {}

const fn method(name: &'static std::ffi::CStr, function: FastCall) -> MethodDef {
    MethodDef(ffi::PyMethodDef {
        ml_name: name.as_ptr(),
        ml_meth: ffi::PyMethodDefPointer { PyCFunctionFast: function },
        ml_flags: ffi::METH_FASTCALL,
        ml_doc: std::ptr::null(),
    })
}

static CALLBACKS: [(u32, MethodDef); 7] = [
    (PY_START, method(c"on_py_start", on_py_start)),
    (PY_RESUME, method(c"on_py_resume", on_py_resume)),
    (PY_THROW, method(c"on_py_throw", on_py_throw)),
    (PY_RETURN, method(c"on_py_return", on_py_return)),
    (PY_YIELD, method(c"on_py_yield", on_py_yield)),
    (PY_UNWIND, method(c"on_py_unwind", on_py_unwind)),
    (LINE, method(c"on_line", on_line)),
];

/// The `N` arguments of a call, if exactly `N` were passed.
unsafe fn arguments<'a, const N: usize>(args: *mut *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> Option<&'a [*mut ffi::PyObject; N]> {
    (nargs == N as ffi::Py_ssize_t && !args.is_null()).then(|| &*(args as *const [*mut ffi::PyObject; N]))
}

unsafe fn new_none() -> *mut ffi::PyObject {
    let none = ffi::Py_None();
    ffi::Py_INCREF(none);
    none
}

unsafe extern "C" fn on_py_start(_: *mut ffi::PyObject, args: *mut *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    let py = Python::assume_gil_acquired();
    if let Some([code, _offset]) = arguments::<2>(args, nargs) {
        let code = Borrowed::from_ptr(py, *code);
        if let Some(disable) = dispatch(py, "on_py_start", None, |s| Ok((!s.on_start(py, &code)?).then(|| s.disable_sentinel(py)))) {
            DISABLED_SINCE_RESTART.store(true, Ordering::Relaxed);
            return disable.into_ptr();
        }
    }
    new_none()
}

unsafe extern "C" fn on_py_resume(_: *mut ffi::PyObject, args: *mut *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    let py = Python::assume_gil_acquired();
    if let Some([code, _offset]) = arguments::<2>(args, nargs) {
        let code = Borrowed::from_ptr(py, *code);
        dispatch(py, "on_py_resume", (), |s| s.on_resume(py, &code, None));
    }
    new_none()
}

unsafe extern "C" fn on_py_throw(_: *mut ffi::PyObject, args: *mut *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    let py = Python::assume_gil_acquired();
    if let Some([code, _offset, exception]) = arguments::<3>(args, nargs) {
        let (code, exception) = (Borrowed::from_ptr(py, *code), Borrowed::from_ptr(py, *exception));
        dispatch(py, "on_py_throw", (), |s| s.on_resume(py, &code, Some(&exception)));
    }
    new_none()
}

/// `PY_RETURN`, `PY_YIELD` and `PY_UNWIND` share their shape: (code, offset, value).
unsafe fn on_exit(args: *mut *mut ffi::PyObject, nargs: ffi::Py_ssize_t, site: &'static str, how: Exit) -> *mut ffi::PyObject {
    let py = Python::assume_gil_acquired();
    if let Some([code, _offset, value]) = arguments::<3>(args, nargs) {
        let (code, value) = (Borrowed::from_ptr(py, *code), Borrowed::from_ptr(py, *value));
        dispatch(py, site, (), |s| s.on_exit(py, &code, &value, how));
    }
    new_none()
}

unsafe extern "C" fn on_py_return(_: *mut ffi::PyObject, args: *mut *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    on_exit(args, nargs, "on_py_return", Exit::Return)
}

unsafe extern "C" fn on_py_yield(_: *mut ffi::PyObject, args: *mut *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    on_exit(args, nargs, "on_py_yield", Exit::Yield)
}

unsafe extern "C" fn on_py_unwind(_: *mut ffi::PyObject, args: *mut *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    on_exit(args, nargs, "on_py_unwind", Exit::Unwind)
}

unsafe extern "C" fn on_line(_: *mut ffi::PyObject, args: *mut *mut ffi::PyObject, nargs: ffi::Py_ssize_t) -> *mut ffi::PyObject {
    let py = Python::assume_gil_acquired();
    if let Some([code, line]) = arguments::<2>(args, nargs) {
        let line = i64::from(ffi::PyLong_AsLong(*line));
        if line == -1 {
            ffi::PyErr_Clear();
        }
        let code = Borrowed::from_ptr(py, *code);
        dispatch(py, "on_line", (), |s| s.on_line(py, &code, line));
    }
    new_none()
}
