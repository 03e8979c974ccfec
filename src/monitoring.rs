//! The `sys.monitoring` side: the tool id, the callbacks, and which events are on.
//!
//! This is the per-event path, top to bottom. Globally only `PY_START` is on, plus
//! `PY_THROW` and `PY_UNWIND` (which cannot be set per code object). At the first
//! `PY_START` of a code object the session decides whether it is recorded: if not, the
//! callback returns `DISABLE` and that code never calls us again; if so, its local
//! events (`PY_RESUME`, `PY_RETURN`, `PY_YIELD`, `LINE`) are switched on for that code
//! object alone. `restart_events()` at each start forgets earlier sessions' `DISABLE`s.
//!
//! Each callback borrows the active session (`recorder::ACTIVE`), hands the event to it,
//! and maps the outcome: a recorder failure detaches the recorder (it is reported at
//! `stop`), it is never raised into the program.

use pyo3::prelude::*;
use pyo3::types::{PyCFunction, PyModule};

use crate::errors::{ErrorCode, RecorderError, RecorderResult};
use crate::ffi::{from_py_err, panic_error};
use crate::recorder::{Exit, Session, ACTIVE};

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
        let callbacks: [(u32, Bound<'_, PyCFunction>); 7] = [
            (PY_START, wrap_pyfunction!(on_py_start, py).map_err(fail)?),
            (PY_RESUME, wrap_pyfunction!(on_py_resume, py).map_err(fail)?),
            (PY_THROW, wrap_pyfunction!(on_py_throw, py).map_err(fail)?),
            (PY_RETURN, wrap_pyfunction!(on_py_return, py).map_err(fail)?),
            (PY_YIELD, wrap_pyfunction!(on_py_yield, py).map_err(fail)?),
            (PY_UNWIND, wrap_pyfunction!(on_py_unwind, py).map_err(fail)?),
            (LINE, wrap_pyfunction!(on_line, py).map_err(fail)?),
        ];
        for (event, callback) in callbacks {
            m.call_method1("register_callback", (TOOL_ID, event, callback)).map_err(fail)?;
        }
        m.call_method0("restart_events").map_err(fail)?;
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

    /// Switches every event off (after a failure), keeping the tool id until `uninstall`.
    pub fn silence(&self, py: Python<'_>) {
        let _ = self.module.bind(py).call_method1("set_events", (TOOL_ID, 0));
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
        for event in [PY_START, PY_RESUME, PY_THROW, PY_RETURN, PY_YIELD, PY_UNWIND, LINE] {
            let _ = m.call_method1("register_callback", (TOOL_ID, event, py.None()));
        }
        let _ = m.call_method1("free_tool_id", (TOOL_ID,));
    }

    pub fn disable<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.disable.bind(py).clone()
    }
}

/// Runs `handle` on the active session. Failures and panics detach the recorder and are
/// kept for `stop`; the program never sees them. No session (or a failed one): nothing.
fn dispatch<T>(py: Python<'_>, site: &'static str, default: T, handle: impl FnOnce(&mut Session) -> RecorderResult<T>) -> T {
    let Some(mut slot) = ACTIVE.borrow_mut(py) else { return default };
    let Some(session) = slot.as_mut().filter(|s| !s.failed()) else { return default };
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handle(session))) {
        Ok(Ok(value)) => value,
        Ok(Err(err)) => {
            session.fail(py, err);
            default
        }
        Err(payload) => {
            session.fail(py, panic_error(site, payload.as_ref()));
            default
        }
    }
}

#[pyfunction]
fn on_py_start<'py>(py: Python<'py>, code: &Bound<'py, PyAny>, _offset: &Bound<'py, PyAny>) -> Bound<'py, PyAny> {
    let disable = dispatch(py, "on_py_start", None, |s| Ok((!s.on_start(py, code)?).then(|| s.disable_sentinel(py))));
    disable.unwrap_or_else(|| py.None().into_bound(py))
}

#[pyfunction]
fn on_py_resume(py: Python<'_>, code: &Bound<'_, PyAny>, _offset: &Bound<'_, PyAny>) {
    dispatch(py, "on_py_resume", (), |s| s.on_resume(py, code, None));
}

#[pyfunction]
fn on_py_throw(py: Python<'_>, code: &Bound<'_, PyAny>, _offset: &Bound<'_, PyAny>, exception: &Bound<'_, PyAny>) {
    dispatch(py, "on_py_throw", (), |s| s.on_resume(py, code, Some(exception)));
}

#[pyfunction]
fn on_py_return(py: Python<'_>, code: &Bound<'_, PyAny>, _offset: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) {
    dispatch(py, "on_py_return", (), |s| s.on_exit(py, code, value, Exit::Return));
}

#[pyfunction]
fn on_py_yield(py: Python<'_>, code: &Bound<'_, PyAny>, _offset: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) {
    dispatch(py, "on_py_yield", (), |s| s.on_exit(py, code, value, Exit::Yield));
}

#[pyfunction]
fn on_py_unwind(py: Python<'_>, code: &Bound<'_, PyAny>, _offset: &Bound<'_, PyAny>, exception: &Bound<'_, PyAny>) {
    dispatch(py, "on_py_unwind", (), |s| s.on_exit(py, code, exception, Exit::Unwind));
}

#[pyfunction]
fn on_line(py: Python<'_>, code: &Bound<'_, PyAny>, line: i64) {
    dispatch(py, "on_line", (), |s| s.on_line(py, code, line));
}
