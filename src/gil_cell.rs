//! `GilCell`: global state that is only touched while holding the GIL.
//!
//! The recorder's session is one global value used by every `sys.monitoring` callback.
//! The GIL already serialises those callbacks, so a lock would only add cost; the cell
//! hands out a `RefCell` borrow given a `Python` token. The core never runs Python code
//! while it holds a borrow (values are read through C APIs only, see
//! `recorder/values.rs`), so no other thread can enter while a borrow is live; a failed
//! `try_borrow_mut` is reported, never a panic.

use std::cell::{RefCell, RefMut};

use pyo3::Python;

pub struct GilCell<T>(RefCell<T>);

// SAFETY: every access goes through `borrow_mut`, which requires a `Python` token, i.e.
// the GIL; the extension declares itself GIL-only (it is not built for free-threading),
// so at most one thread can be inside at a time.
unsafe impl<T: Send> Sync for GilCell<T> {}

impl<T> GilCell<T> {
    pub const fn new(value: T) -> Self {
        GilCell(RefCell::new(value))
    }

    /// The value, or `None` if it is already borrowed (a re-entrant call).
    pub fn borrow_mut<'a>(&'a self, _py: Python<'a>) -> Option<RefMut<'a, T>> {
        self.0.try_borrow_mut().ok()
    }
}
