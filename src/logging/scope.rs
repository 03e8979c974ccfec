//! What every record carries besides its message: the process's `run_id`, the active
//! session's `trace_id`, and the error code of the innermost `with_error_code` scope.
//!
//! `run_id` is one random UUID (version 4) per process; a forked child gets a new one
//! (`renew_run_id`, called by `api::detach_after_fork`, which `os.register_at_fork`
//! runs in the child). The trace id is global (one session per process); error-code
//! scopes are per thread, as nested calls are.

use std::cell::RefCell;
use std::sync::{PoisonError, RwLock};

use crate::errors::ErrorCode;

static RUN_ID: RwLock<Option<String>> = RwLock::new(None);
static TRACE_ID: RwLock<Option<String>> = RwLock::new(None);

thread_local! {
    static CODES: RefCell<Vec<ErrorCode>> = const { RefCell::new(Vec::new()) };
}

/// This process's run id, made on first use.
pub fn run_id() -> String {
    if let Some(id) = RUN_ID.read().unwrap_or_else(PoisonError::into_inner).as_ref() {
        return id.clone();
    }
    let mut slot = RUN_ID.write().unwrap_or_else(PoisonError::into_inner);
    slot.get_or_insert_with(new_uuid).clone()
}

/// A new run id (in a forked child).
pub fn renew_run_id() {
    *RUN_ID.write().unwrap_or_else(PoisonError::into_inner) = Some(new_uuid());
}

/// A random (version 4) UUID in its usual text form. Without randomness from the OS the
/// clock and the process id stand in (still unique per process in practice).
fn new_uuid() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
        bytes = (nanos ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// The records that follow carry `trace_id` (`None`: no session is active).
pub fn set_active_trace_id(trace_id: Option<&str>) {
    *TRACE_ID.write().unwrap_or_else(PoisonError::into_inner) = trace_id.map(str::to_owned);
}

pub fn active_trace_id() -> Option<String> {
    TRACE_ID.read().unwrap_or_else(PoisonError::into_inner).clone()
}

/// Runs `body` with `code` scoped: every record written inside (on this thread) that
/// names no code of its own carries it. Scopes nest; the innermost wins.
pub fn with_error_code<T>(code: ErrorCode, body: impl FnOnce() -> T) -> T {
    let _scope = ErrorCodeScope::enter(code);
    body()
}

/// An entered `with_error_code` scope; leaving it (drop, also on unwinding) restores the
/// outer one. The Python context manager holds one between `__enter__` and `__exit__`.
pub struct ErrorCodeScope(());

impl ErrorCodeScope {
    pub fn enter(code: ErrorCode) -> Self {
        push_error_code(code);
        ErrorCodeScope(())
    }
}

impl Drop for ErrorCodeScope {
    fn drop(&mut self) {
        pop_error_code();
    }
}

pub fn push_error_code(code: ErrorCode) {
    CODES.with(|codes| codes.borrow_mut().push(code));
}

pub fn pop_error_code() {
    CODES.with(|codes| codes.borrow_mut().pop());
}

/// The innermost scoped code of this thread.
pub fn current_error_code() -> Option<ErrorCode> {
    CODES.with(|codes| codes.borrow().last().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_version_4_uuids() {
        let id = new_uuid();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert!(matches!(&id[19..20], "8" | "9" | "a" | "b"));
        assert_ne!(id, new_uuid());
    }

    #[test]
    fn error_code_scopes_nest_and_unwind() {
        assert_eq!(current_error_code(), None);
        with_error_code(ErrorCode::Io, || {
            assert_eq!(current_error_code(), Some(ErrorCode::Io));
            with_error_code(ErrorCode::Panic, || assert_eq!(current_error_code(), Some(ErrorCode::Panic)));
            assert_eq!(current_error_code(), Some(ErrorCode::Io));
        });
        assert_eq!(current_error_code(), None);
    }
}
