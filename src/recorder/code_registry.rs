//! What the recorder knows about each code object, worked out once at its first
//! `PY_START`: whether it is recorded, its function and path ids, and its parameters.
//! Every later event of that code is a hash lookup on the code object's address; the
//! registry holds a strong reference to each code object it has seen, so an address
//! cannot be reused while the session lasts, and it lets them all go at `stop`.

use pyo3::prelude::*;
use pyo3::types::PyTuple;
use runtime_tracing::{FunctionId, PathId, TraceLowLevelEvent};
use rustc_hash::FxHashMap;

use super::filters::Filters;
use super::interner::Interner;
use super::variables::{VariableCache, VariableName};
use crate::errors::{ErrorCode, RecorderError, RecorderResult};

const CO_VARARGS: u32 = 0x04;
const CO_VARKEYWORDS: u32 = 0x08;

pub enum CodeInfo {
    Recorded(RecordedCode),
    Skipped,
}

pub struct RecordedCode {
    pub function_id: FunctionId,
    pub path_id: PathId,
    pub first_line: i64,
    /// Module code, whose locals are the module's globals.
    pub is_module: bool,
    /// Parameters in `co_varnames` order: positional, `*args`, keyword-only, `**kwargs`.
    /// Each with its name object, to read the argument from the frame.
    pub params: Vec<(VariableName, Py<PyAny>)>,
}

#[derive(Default)]
pub struct CodeRegistry {
    by_address: FxHashMap<usize, CodeInfo>,
    keep_alive: Vec<Py<PyAny>>,
}

impl CodeRegistry {
    pub fn get(&self, code: usize) -> Option<&CodeInfo> {
        self.by_address.get(&code)
    }

    /// Describes `code` (seen for the first time), records the decision and returns it.
    pub fn register(
        &mut self,
        code: &Bound<'_, PyAny>,
        module: &str,
        filters: &Filters,
        interner: &mut Interner,
        names: &mut VariableCache,
        out: &mut Vec<TraceLowLevelEvent>,
    ) -> RecorderResult<&CodeInfo> {
        let info = describe(code, module, filters, interner, names, out)?;
        let address = code.as_ptr() as usize;
        self.keep_alive.push(code.clone().unbind());
        Ok(self.by_address.entry(address).or_insert(info))
    }

    /// The code objects that are recorded (their local events must be switched off at stop).
    pub fn recorded_codes<'py>(&self, py: Python<'py>) -> Vec<Bound<'py, PyAny>> {
        self.keep_alive
            .iter()
            .filter(|code| matches!(self.by_address.get(&(code.as_ptr() as usize)), Some(CodeInfo::Recorded(_))))
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
) -> RecorderResult<CodeInfo> {
    let attr_err = |err: PyErr| {
        RecorderError::new(ErrorCode::FrameIntrospectionFailed, format!("cannot read a code object's attributes: {err}"))
    };
    let path: String = code.getattr("co_filename").and_then(|v| v.extract()).map_err(attr_err)?;
    if filters.skip(module, &path).is_some() {
        return Ok(CodeInfo::Skipped);
    }
    let qualname: String = code.getattr("co_qualname").and_then(|v| v.extract()).map_err(attr_err)?;
    let first_line: i64 = code.getattr("co_firstlineno").and_then(|v| v.extract()).map_err(attr_err)?;
    let flags: u32 = code.getattr("co_flags").and_then(|v| v.extract()).map_err(attr_err)?;
    let argcount: usize = code.getattr("co_argcount").and_then(|v| v.extract()).map_err(attr_err)?;
    let kwonly: usize = code.getattr("co_kwonlyargcount").and_then(|v| v.extract()).map_err(attr_err)?;
    let varnames = code.getattr("co_varnames").map_err(attr_err)?;
    let varnames = varnames.downcast::<PyTuple>().map_err(|e| attr_err(e.into()))?;

    let is_module = qualname == "<module>";
    let n_params = argcount + kwonly + usize::from(flags & CO_VARARGS != 0) + usize::from(flags & CO_VARKEYWORDS != 0);
    let mut params = Vec::with_capacity(n_params);
    for name in varnames.iter().take(n_params) {
        params.push((names.get(&name, interner, out), name.unbind()));
    }
    let path_id = interner.path_id(&path, out);
    let function_id = interner.new_function(&qualname, path_id, first_line, out);
    Ok(CodeInfo::Recorded(RecordedCode { function_id, path_id, first_line, is_module, params }))
}
