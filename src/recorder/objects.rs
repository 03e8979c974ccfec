//! How instances of the program's classes are recorded: as a `Struct` of their
//! attributes, read straight from the instance's `__dict__` or `__slots__`, never
//! through `getattr` (which could run a property or `__getattr__`).
//!
//! Working out a class's fields (names, which are secret-looking, which are dunder
//! bookkeeping, the struct type) involves string work, so it is done once per shape and
//! cached: per class and set of `__dict__` keys, or per class for `__slots__`. Keys of
//! instance dicts are interned strings shared by all instances, so a shape is
//! recognised by the addresses of its key objects (kept alive by the cache).

use std::ffi::CStr;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use pyo3::ffi;
use pyo3::prelude::*;
use runtime_tracing::{FieldTypeRecord, TypeId, TypeKind};
use rustc_hash::{FxHashMap, FxHasher};

use super::redaction::is_secret_name;
use super::values::{str_text, type_name, Sink, MAX_ITEMS};

/// One attribute of a shape.
pub struct Field {
    /// The key object (dict shapes) or the byte offset in the object (slot shapes).
    pub at: usize,
    /// False for dunder bookkeeping (`__objclass__`, …), which is not recorded.
    pub shown: bool,
    pub secret: bool,
}

/// The fields of one shape, in order, and the struct type of the shown ones.
pub struct Shape {
    pub type_id: TypeId,
    pub fields: Vec<Field>,
}

#[derive(Default)]
pub struct ObjectShapes {
    /// Dict shapes by a hash of (class, key addresses); a bucket holds every shape
    /// with that hash, told apart by their keys.
    by_keys: FxHashMap<u64, Vec<(usize, Arc<Shape>)>>,
    /// Slot shapes by class; `None` for a class without slots.
    by_class: FxHashMap<usize, Option<Arc<Shape>>>,
    /// `<Name object>` per class, for instances with neither.
    opaque: FxHashMap<usize, String>,
    keep_alive: Vec<Py<PyAny>>,
}

// Shapes are shared (`Arc`) between the cache and the encoding in progress; `Arc` rather
// than `Rc` only because the session must be `Send` (it only ever runs under the GIL).
impl ObjectShapes {
    /// The shape of `dict`, the `__dict__` of an instance of `class`.
    ///
    /// # Safety
    /// `class` and `dict` are valid objects, `dict` a dict; the GIL is held.
    pub unsafe fn dict_shape(&mut self, py: Python<'_>, class: *mut ffi::PyObject, dict: *mut ffi::PyObject, sink: &mut Sink<'_>) -> Arc<Shape> {
        let mut hasher = FxHasher::default();
        class.hash(&mut hasher);
        for_each_str_key(dict, |key, _| key.hash(&mut hasher));
        let hash = hasher.finish();
        if let Some(bucket) = self.by_keys.get(&hash) {
            for (bucket_class, shape) in bucket {
                if *bucket_class == class as usize && same_keys(dict, shape) {
                    return Arc::clone(shape);
                }
            }
        }
        let mut fields = Vec::new();
        let mut names = Vec::new();
        for_each_str_key(dict, |key, _| {
            let name = str_text(key);
            let shown = !(name.starts_with("__") && name.ends_with("__"));
            fields.push(Field { at: key as usize, shown, secret: is_secret_name(&name) });
            if shown {
                names.push(name);
            }
            self.keep_alive.push(Py::from_borrowed_ptr(py, key));
        });
        let shape = Arc::new(Shape { type_id: struct_type(class, &names, sink), fields });
        self.keep_alive.push(Py::from_borrowed_ptr(py, class));
        self.by_keys.entry(hash).or_default().push((class as usize, Arc::clone(&shape)));
        shape
    }

    /// The `__slots__` shape of `class`, or `None` if its instances have no slots.
    ///
    /// # Safety
    /// `class` is a valid type object; the GIL is held.
    pub unsafe fn slot_shape(&mut self, py: Python<'_>, class: *mut ffi::PyObject, sink: &mut Sink<'_>) -> Option<Arc<Shape>> {
        if let Some(shape) = self.by_class.get(&(class as usize)) {
            return shape.clone();
        }
        let mut fields = Vec::new();
        let mut names = Vec::new();
        for (name, offset) in slot_members(class) {
            let shown = !(name.starts_with("__") && name.ends_with("__"));
            fields.push(Field { at: offset, shown, secret: is_secret_name(&name) });
            if shown {
                names.push(name);
            }
        }
        let shape = (!fields.is_empty()).then(|| Arc::new(Shape { type_id: struct_type(class, &names, sink), fields }));
        self.keep_alive.push(Py::from_borrowed_ptr(py, class));
        self.by_class.insert(class as usize, shape.clone());
        shape
    }

    /// `<Name object>` for an instance of `class` that shows no attributes.
    ///
    /// # Safety
    /// `obj` is a valid object; the GIL is held.
    pub unsafe fn opaque_text(&mut self, py: Python<'_>, obj: *mut ffi::PyObject) -> String {
        let class = ffi::Py_TYPE(obj) as *mut ffi::PyObject;
        if let Some(text) = self.opaque.get(&(class as usize)) {
            return text.clone();
        }
        let text = format!("<{} object>", type_name(obj));
        self.keep_alive.push(Py::from_borrowed_ptr(py, class));
        self.opaque.insert(class as usize, text.clone());
        text
    }
}

/// Calls `f(key, value)` for the first [`MAX_ITEMS`] string keys of `dict`.
///
/// # Safety
/// `dict` is a valid dict and the GIL is held; `f` must not change the dict.
pub unsafe fn for_each_str_key(dict: *mut ffi::PyObject, mut f: impl FnMut(*mut ffi::PyObject, *mut ffi::PyObject)) {
    let (mut pos, mut key, mut value) = (0, std::ptr::null_mut(), std::ptr::null_mut());
    let mut seen = 0;
    while seen < MAX_ITEMS && ffi::PyDict_Next(dict, &mut pos, &mut key, &mut value) != 0 {
        if ffi::PyUnicode_Check(key) != 0 {
            f(key, value);
            seen += 1;
        }
    }
}

unsafe fn same_keys(dict: *mut ffi::PyObject, shape: &Shape) -> bool {
    let mut i = 0;
    let mut same = true;
    for_each_str_key(dict, |key, _| {
        same &= shape.fields.get(i).is_some_and(|field| field.at == key as usize);
        i += 1;
    });
    same && i == shape.fields.len()
}

/// The slot members (`__slots__` entries) of a class and its bases: name and offset.
unsafe fn slot_members(class: *mut ffi::PyObject) -> Vec<(String, usize)> {
    let mut members = Vec::new();
    let mro = (*(class as *mut ffi::PyTypeObject)).tp_mro;
    if mro.is_null() || ffi::PyTuple_Check(mro) == 0 {
        return members;
    }
    for i in 0..ffi::PyTuple_GET_SIZE(mro) {
        let base = ffi::PyTuple_GET_ITEM(mro, i) as *mut ffi::PyTypeObject;
        // Only classes the program defines; builtin types' members are their internals.
        if (*base).tp_flags & ffi::Py_TPFLAGS_HEAPTYPE == 0 || (*base).tp_members.is_null() {
            continue;
        }
        let mut member = (*base).tp_members;
        while !(*member).name.is_null() {
            if (*member).type_code == ffi::Py_T_OBJECT_EX {
                members.push((CStr::from_ptr((*member).name).to_string_lossy().into_owned(), (*member).offset as usize));
            }
            member = member.add(1);
        }
    }
    members
}

/// The value in a slot at `offset` of `obj` (borrowed), or null while unset.
///
/// # Safety
/// `offset` comes from `obj`'s class's slot members.
pub unsafe fn slot_value(obj: *mut ffi::PyObject, offset: usize) -> *mut ffi::PyObject {
    *((obj as *mut u8).add(offset) as *mut *mut ffi::PyObject)
}

/// A struct type named after `class` with the shown `names` as its fields.
unsafe fn struct_type(class: *mut ffi::PyObject, names: &[String], sink: &mut Sink<'_>) -> TypeId {
    let any = sink.interner.type_id(TypeKind::Any, "object", sink.out);
    let fields = names.iter().map(|name| FieldTypeRecord { name: name.clone(), type_id: any }).collect();
    let class_name = CStr::from_ptr((*(class as *mut ffi::PyTypeObject)).tp_name).to_string_lossy();
    sink.interner.struct_type_id(&class_name, fields, sink.out)
}
