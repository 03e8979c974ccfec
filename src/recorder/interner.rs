//! Positional ids for paths, functions, types and variable names.
//!
//! In a CodeTracer trace an id is the index of its interning event in the stream
//! (`Path`, `Function`, `Type`, `VariableName`), so an id is handed out at the moment its
//! event is emitted, and the event must reach the stream before any event that uses it.
//! [`Interner`] keeps the tables; each `*_id` method returns the id and, the first time,
//! pushes the interning event into `out` (the session's shared stream buffer, never a
//! thread's deferred segment, so the definition always precedes the use).

use std::path::PathBuf;

use runtime_tracing::{
    FieldTypeRecord, FunctionId, FunctionRecord, Line, PathId, TraceLowLevelEvent, TypeId, TypeKind, TypeRecord, TypeSpecificInfo,
    VariableId,
};
use rustc_hash::FxHashMap;

#[derive(Default)]
pub struct Interner {
    paths: FxHashMap<String, PathId>,
    path_list: Vec<String>,
    functions: usize,
    /// By `lang_type`, then kind: looked up with a `&str`, so a hit allocates nothing.
    types: FxHashMap<String, Vec<(u8, TypeId)>>,
    type_count: usize,
    variables: FxHashMap<String, VariableId>,
}

impl Interner {
    pub fn path_id(&mut self, path: &str, out: &mut Vec<TraceLowLevelEvent>) -> PathId {
        if let Some(id) = self.paths.get(path) {
            return *id;
        }
        let id = PathId(self.path_list.len());
        self.paths.insert(path.to_owned(), id);
        self.path_list.push(path.to_owned());
        out.push(TraceLowLevelEvent::Path(PathBuf::from(path)));
        id
    }

    /// Functions are interned per code object by the caller (two functions may share a
    /// name), so this always defines a new id.
    pub fn new_function(&mut self, name: &str, path_id: PathId, line: i64, out: &mut Vec<TraceLowLevelEvent>) -> FunctionId {
        let id = FunctionId(self.functions);
        self.functions += 1;
        out.push(TraceLowLevelEvent::Function(FunctionRecord { path_id, line: Line(line), name: name.to_owned() }));
        id
    }

    pub fn type_id(&mut self, kind: TypeKind, lang_type: &str, out: &mut Vec<TraceLowLevelEvent>) -> TypeId {
        // TypeKind is a fieldless u8 enum without Hash, so the table keys on its number.
        let kind_number = kind as u8;
        if let Some(known) = self.types.get(lang_type).and_then(|kinds| kinds.iter().find(|(k, _)| *k == kind_number)) {
            return known.1;
        }
        let id = TypeId(self.type_count);
        self.type_count += 1;
        self.types.entry(lang_type.to_owned()).or_default().push((kind_number, id));
        out.push(TraceLowLevelEvent::Type(TypeRecord {
            kind,
            lang_type: lang_type.to_owned(),
            specific_info: TypeSpecificInfo::None,
        }));
        id
    }

    /// A struct type (a class with a given set of attributes). The caller caches it per
    /// class and attribute names, so this always defines a new id.
    pub fn struct_type_id(&mut self, lang_type: &str, fields: Vec<FieldTypeRecord>, out: &mut Vec<TraceLowLevelEvent>) -> TypeId {
        let id = TypeId(self.type_count);
        self.type_count += 1;
        out.push(TraceLowLevelEvent::Type(TypeRecord {
            kind: TypeKind::Struct,
            lang_type: lang_type.to_owned(),
            specific_info: TypeSpecificInfo::Struct { fields },
        }));
        id
    }

    pub fn variable_id(&mut self, name: &str, out: &mut Vec<TraceLowLevelEvent>) -> VariableId {
        if let Some(id) = self.variables.get(name) {
            return *id;
        }
        let id = VariableId(self.variables.len());
        self.variables.insert(name.to_owned(), id);
        out.push(TraceLowLevelEvent::VariableName(name.to_owned()));
        id
    }

    /// Paths in id order, for `trace_paths.json`.
    pub fn paths(&self) -> &[String] {
        &self.path_list
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_positional_and_events_emitted_once() {
        let mut interner = Interner::default();
        let mut out = Vec::new();
        assert_eq!(interner.path_id("/a.py", &mut out), PathId(0));
        assert_eq!(interner.path_id("/b.py", &mut out), PathId(1));
        assert_eq!(interner.path_id("/a.py", &mut out), PathId(0));
        assert_eq!(interner.variable_id("x", &mut out), VariableId(0));
        assert_eq!(interner.variable_id("x", &mut out), VariableId(0));
        assert_eq!(interner.type_id(TypeKind::Int, "int", &mut out), TypeId(0));
        assert_eq!(interner.type_id(TypeKind::Raw, "int", &mut out), TypeId(1));
        assert_eq!(out.len(), 5);
        assert_eq!(interner.paths(), ["/a.py", "/b.py"]);
    }
}
