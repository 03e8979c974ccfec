//! What the recorder knows about each code object, worked out once at its first
//! `PY_START`: whether it is recorded, its function and path ids, and where its
//! parameters and locals live in the frame. Every later `PY_START` of that code is one
//! hash lookup on the code object's address; the other events reach the entry through
//! the index kept on the thread's stack. The registry holds a strong reference to each
//! code object it has seen, so an address cannot be reused while the session lasts, and
//! lets them all go at `stop`.

use pyo3::prelude::*;
use pyo3::types::PyString;
use runtime_tracing::{FunctionId, PathId, TraceLowLevelEvent};
use rustc_hash::FxHashMap;

use super::filters::Filters;
use super::frame;
use super::interner::Interner;
use super::values::utf8_text;
use super::variables::{VariableCache, VariableName};
use crate::errors::{ErrorCode, RecorderError, RecorderResult};

const CO_OPTIMIZED: u32 = 0x01;
const CO_VARARGS: u32 = 0x04;
const CO_VARKEYWORDS: u32 = 0x08;

/// The decision for one code object.
#[derive(Clone, Copy)]
pub enum CodeEntry {
    /// Recorded; the index into [`CodeRegistry::recorded`].
    Recorded(u32),
    Skipped,
}

/// One fast-local slot of a recorded code object.
pub struct Slot {
    pub index: usize,
    /// The slot's kind byte (tells whether it holds a cell).
    pub kind: u8,
    pub name: VariableName,
}

pub struct RecordedCode {
    pub function_id: FunctionId,
    pub path_id: PathId,
    pub first_line: i64,
    /// A function body, whose variables live in fast-local slots; module and class
    /// bodies keep theirs in a mapping instead.
    pub optimized: bool,
    /// Module code, whose locals are the module's globals.
    pub is_module: bool,
    /// Parameters (positional, `*args`, keyword-only, `**kwargs`): the first slots.
    pub params: Vec<Slot>,
    /// Every slot that holds a user variable (dunder names such as `__class__` left out).
    pub slots: Vec<Slot>,
}

#[derive(Default)]
pub struct CodeRegistry {
    by_address: FxHashMap<usize, CodeEntry>,
    recorded: Vec<RecordedCode>,
    keep_alive: Vec<Py<PyAny>>,
}

impl CodeRegistry {
    pub fn get(&self, code: usize) -> Option<CodeEntry> {
        self.by_address.get(&code).copied()
    }

    pub fn recorded(&self, index: u32) -> &RecordedCode {
        &self.recorded[index as usize]
    }

    /// Describes `code` (seen for the first time) and records the decision.
    pub fn register(
        &mut self,
        code: &Bound<'_, PyAny>,
        module: &str,
        filters: &Filters,
        interner: &mut Interner,
        names: &mut VariableCache,
        out: &mut Vec<TraceLowLevelEvent>,
    ) -> RecorderResult<CodeEntry> {
        let entry = match describe(code, module, filters, interner, names, out)? {
            Some(info) => {
                self.recorded.push(info);
                CodeEntry::Recorded((self.recorded.len() - 1) as u32)
            }
            None => CodeEntry::Skipped,
        };
        self.by_address.insert(code.as_ptr() as usize, entry);
        self.keep_alive.push(code.clone().unbind());
        Ok(entry)
    }

    /// The code objects that are recorded (their local events must be switched off at stop).
    pub fn recorded_codes<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyAny>> {
        self.keep_alive
            .iter()
            .filter(|code| matches!(self.by_address.get(&(code.as_ptr() as usize)), Some(CodeEntry::Recorded(_))))
            .map(|code| code.bind(py).clone())
            .collect()
    }
}

fn describe(
    code: &Bound<'_, PyAny>,
    module: &str,
    filters: &Filters,
    interner: &mut Interner,
    names: &mut VariableCache,
    out: &mut Vec<TraceLowLevelEvent>,
) -> RecorderResult<Option<RecordedCode>> {
    let attr_err = |err: PyErr| {
        RecorderError::new(ErrorCode::FrameIntrospectionFailed, format!("cannot read a code object's attributes: {err}"))
    };
    // A file name that is not UTF-8 (its undecodable bytes are lone surrogates) is
    // written with `\udcxx` escapes, as values are.
    let path = code.getattr("co_filename").and_then(|v| Ok(v.downcast_into::<PyString>()?)).map_err(attr_err)?;
    // SAFETY: a live str object.
    let path = unsafe { utf8_text(path.as_ptr()) };
    if filters.skip(module, &path).is_some() {
        return Ok(None);
    }
    let qualname: String = code.getattr("co_qualname").and_then(|v| v.extract()).map_err(attr_err)?;
    let first_line: i64 = code.getattr("co_firstlineno").and_then(|v| v.extract()).map_err(attr_err)?;
    let flags: u32 = code.getattr("co_flags").and_then(|v| v.extract()).map_err(attr_err)?;
    let argcount: usize = code.getattr("co_argcount").and_then(|v| v.extract()).map_err(attr_err)?;
    let kwonly: usize = code.getattr("co_kwonlyargcount").and_then(|v| v.extract()).map_err(attr_err)?;
    let (slot_names, kinds) = frame::localsplus_layout(code.py(), code).ok_or_else(|| {
        RecorderError::new(ErrorCode::FrameIntrospectionFailed, format!("cannot read the variables of {qualname}"))
    })?;

    let n_params = argcount + kwonly + usize::from(flags & CO_VARARGS != 0) + usize::from(flags & CO_VARKEYWORDS != 0);
    let mut params = Vec::with_capacity(n_params);
    let mut slots = Vec::with_capacity(kinds.len());
    for (index, (name, kind)) in slot_names.iter().zip(kinds).enumerate() {
        let name = name.downcast::<PyString>().map_err(|_| {
            RecorderError::new(ErrorCode::FrameIntrospectionFailed, format!("a variable name of {qualname} is not a str"))
        })?;
        let name = names.get(name, interner, out);
        if index < n_params {
            params.push(Slot { index, kind, name });
        }
        if !name.dunder {
            slots.push(Slot { index, kind, name });
        }
    }
    let path_id = interner.path_id(&path, out);
    let function_id = interner.new_function(&qualname, path_id, first_line, out);
    Ok(Some(RecordedCode {
        function_id,
        path_id,
        first_line,
        optimized: flags & CO_OPTIMIZED != 0,
        is_module: qualname == "<module>",
        params,
        slots,
    }))
}
