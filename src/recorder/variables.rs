//! Variable-name objects to variable ids, without string work after the first sight.
//!
//! Local variable names are interned `str` objects shared by the code object and the
//! locals dict, so the same name arrives as the same object on every step: the cache
//! keys on the object's address (holding a reference so it cannot be reused) and falls
//! back to the interner's by-text table for names it has not seen as that object.

use pyo3::prelude::*;
use pyo3::types::PyString;
use runtime_tracing::{TraceLowLevelEvent, VariableId};
use rustc_hash::FxHashMap;

use super::interner::Interner;
use super::redaction::is_secret_name;

#[derive(Clone, Copy)]
pub struct VariableName {
    pub id: VariableId,
    /// Secret-looking: the value is redacted.
    pub secret: bool,
    /// A dunder name (`__name__`, `__builtins__`, `__class__`): interpreter
    /// bookkeeping, not user data; never recorded.
    pub dunder: bool,
}

/// Maps a name object's address to its entry; the `Py` keeps the address valid.
#[derive(Default)]
pub struct VariableCache {
    by_address: FxHashMap<usize, (VariableName, Py<PyAny>)>,
}

impl VariableCache {
    pub fn get(&mut self, name: &Bound<'_, PyString>, interner: &mut Interner, out: &mut Vec<TraceLowLevelEvent>) -> VariableName {
        let address = name.as_ptr() as usize;
        if let Some((known, _)) = self.by_address.get(&address) {
            return *known;
        }
        // Read from the str's own data (a subclass's methods are never called); a lone
        // surrogate, which UTF-8 cannot hold, becomes U+FFFD.
        let text = name.to_string_lossy();
        let dunder = text.len() > 4 && text.starts_with("__") && text.ends_with("__");
        // Dunder names are never recorded, so they get no id (and no event).
        let id = if dunder { VariableId(usize::MAX) } else { interner.variable_id(&text, out) };
        let entry = VariableName { id, secret: is_secret_name(&text), dunder };
        self.by_address.insert(address, (entry, name.clone().into_any().unbind()));
        entry
    }
}
