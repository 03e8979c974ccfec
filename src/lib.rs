//! `codetracer_recorder._native`: the Rust core of the recorder. Wiring only; each
//! concept lives in its own module (see `../shared/DESIGN.md` for the map).

mod api;
pub mod errors;
mod fault_injection;
mod ffi;
mod gil_cell;
pub mod logging;
pub mod metrics;
mod monitoring;
pub mod policy;
pub mod recorder;
pub mod trace_check;

use pyo3::prelude::*;

/// The recorder allocates many small values on the interpreter's thread and frees them on
/// the writer thread; mimalloc handles that pattern far better than the system allocator.
/// (Rust allocations of this module only; the interpreter keeps its own allocator.)
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use ffi::exceptions;

#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    // The logger starts with the module (story 4: at import, or at the first start).
    logging::init();
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("TOOL_ID", monitoring::TOOL_ID)?;
    m.add("RecorderError", py.get_type::<exceptions::RecorderError>())?;
    m.add("UsageError", py.get_type::<exceptions::UsageError>())?;
    m.add("EnvironmentError", py.get_type::<exceptions::EnvironmentError>())?;
    m.add("TargetError", py.get_type::<exceptions::TargetError>())?;
    m.add("InternalError", py.get_type::<exceptions::InternalError>())?;
    m.add("ERROR_CODES", api::error_codes(py)?)?;
    m.add("POLICY_FIELDS", api::policy_fields(py)?)?;
    m.add("FAULT_INJECTION", fault_injection::ENABLED)?;
    m.add_function(wrap_pyfunction!(api::start_recording, m)?)?;
    m.add_function(wrap_pyfunction!(api::stop_recording, m)?)?;
    m.add_function(wrap_pyfunction!(api::flush_recording, m)?)?;
    m.add_function(wrap_pyfunction!(api::is_recording, m)?)?;
    m.add_function(wrap_pyfunction!(api::active_trace_id, m)?)?;
    m.add_function(wrap_pyfunction!(api::pause_for_fork, m)?)?;
    m.add_function(wrap_pyfunction!(api::detach_after_fork, m)?)?;
    m.add_function(wrap_pyfunction!(api::configure_policy, m)?)?;
    m.add_function(wrap_pyfunction!(api::configure_policy_from_env, m)?)?;
    m.add_function(wrap_pyfunction!(api::policy_snapshot, m)?)?;
    m.add_function(wrap_pyfunction!(api::reset_policy, m)?)?;
    m.add_function(wrap_pyfunction!(api::parse_policy_value, m)?)?;
    m.add_function(wrap_pyfunction!(api::trace_summary, m)?)?;
    m.add_function(wrap_pyfunction!(api::trace_events_json, m)?)?;
    m.add_function(wrap_pyfunction!(api::log, m)?)?;
    m.add_function(wrap_pyfunction!(api::log_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(api::push_error_code, m)?)?;
    m.add_function(wrap_pyfunction!(api::pop_error_code, m)?)?;
    m.add_function(wrap_pyfunction!(api::set_active_trace_id, m)?)?;
    m.add_function(wrap_pyfunction!(api::run_id, m)?)?;
    m.add_function(wrap_pyfunction!(api::set_log_listener, m)?)?;
    m.add_function(wrap_pyfunction!(api::set_trailer_writer, m)?)?;
    m.add_function(wrap_pyfunction!(api::write_trailer, m)?)?;
    m.add_function(wrap_pyfunction!(api::install_metrics, m)?)?;
    m.add_function(wrap_pyfunction!(api::metrics_snapshot, m)?)?;
    Ok(())
}
