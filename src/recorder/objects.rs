//! How instances of the program's classes are recorded: as a `Struct` of their
//! attributes, read straight from the instance's `__dict__` or `__slots__`, never
//! through `getattr` (which could run a property or `__getattr__`).
//!
//! Working out a class's fields (names, which are secret-looking, which are dunder
//! bookkeeping, the struct type) involves string work, so it is done once per shape and
//! cached: per class and set of `__dict__` keys, or per class for `__slots__`. Keys of
//! instance dicts are interned strings shared by all instances, so a shape is
//! recognised by the addresses of its key objects (kept alive by the shape).
//!
//! The caches hold classes weakly ([`ClassCache`]): a class the program drops is freed
//! as it would be without the recorder (`unittest.mock` makes a class per mock).

use std::ffi::CStr;
use std::hash::{Hash, Hasher};
use std::ptr;
use std::sync::Arc;

use pyo3::ffi;
use pyo3::prelude::*;
use runtime_tracing::{FieldTypeRecord, TypeId, TypeKind};
use rustc_hash::{FxHashMap, FxHasher};

use super::redaction::is_secret_name;
use super::values::{str_text, type_name, Sink, MAX_ITEMS};

/// One attribute of a shape.
pub struct Field {
    /// The byte offset of the slot in the object (slot shapes; 0 in dict shapes, whose
    /// fields are the dict's string keys in the order of [`Shape::keys`]).
    pub at: usize,
    /// False for dunder bookkeeping (`__objclass__`, …), which is not recorded.
    pub shown: bool,
    pub secret: bool,
}

/// The fields of one shape, in order, and the struct type of the shown ones.
pub struct Shape {
    pub type_id: TypeId,
    pub fields: Vec<Field>,
    /// The key objects of a dict shape, which recognise it by address; held, so that no
    /// other string can take one of those addresses while the shape is cached.
    keys: Vec<Py<PyAny>>,
}

#[derive(Default)]
pub struct ObjectShapes {
    /// Dict shapes by class and a hash of their key addresses; on a hash collision the
    /// newer shape replaces the older.
    by_keys: ClassCache<(usize, u64), Arc<Shape>>,
    /// Slot shapes by class; `None` for a class without slots.
    by_class: ClassCache<usize, Option<Arc<Shape>>>,
    /// `<Name object>` per class, for instances with neither.
    opaque: ClassCache<usize, String>,
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
        for_each_str_key(dict, |key, _| key.hash(&mut hasher));
        let cache_key = (class as usize, hasher.finish());
        if let Some(shape) = self.by_keys.get(&cache_key, class).filter(|shape| same_keys(dict, shape)) {
            return Arc::clone(shape);
        }
        let mut fields = Vec::new();
        let mut names = Vec::new();
        let mut keys = Vec::new();
        for_each_str_key(dict, |key, _| {
            let name = str_text(key);
            let shown = !(name.starts_with("__") && name.ends_with("__"));
            fields.push(Field { at: 0, shown, secret: is_secret_name(&name) });
            if shown {
                names.push(name);
            }
            keys.push(Py::from_borrowed_ptr(py, key));
        });
        let shape = Arc::new(Shape { type_id: struct_type(class, &names, sink), fields, keys });
        self.by_keys.insert(py, cache_key, class, Arc::clone(&shape));
        shape
    }

    /// The `__slots__` shape of `class`, or `None` if its instances have no slots.
    ///
    /// # Safety
    /// `class` is a valid type object; the GIL is held.
    pub unsafe fn slot_shape(&mut self, py: Python<'_>, class: *mut ffi::PyObject, sink: &mut Sink<'_>) -> Option<Arc<Shape>> {
        if let Some(shape) = self.by_class.get(&(class as usize), class) {
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
        let shape = (!fields.is_empty()).then(|| Arc::new(Shape { type_id: struct_type(class, &names, sink), fields, keys: Vec::new() }));
        self.by_class.insert(py, class as usize, class, shape.clone());
        shape
    }

    /// `<Name object>` for an instance of `class` that shows no attributes.
    ///
    /// # Safety
    /// `obj` is a valid object; the GIL is held.
    pub unsafe fn opaque_text(&mut self, py: Python<'_>, obj: *mut ffi::PyObject) -> String {
        let class = ffi::Py_TYPE(obj) as *mut ffi::PyObject;
        if let Some(text) = self.opaque.get(&(class as usize), class) {
            return text.clone();
        }
        let text = format!("<{} object>", type_name(obj));
        self.opaque.insert(py, class as usize, class, text.clone());
        text
    }
}

/// Values cached per class (and more of a key `K`) without keeping the classes alive:
/// each entry holds its class as a [`ClassRef`], and a lookup finds an entry only while
/// that is still the class looked up. Entries of freed classes are swept out whenever
/// the cache has doubled since the last sweep, so classes made and dropped at run time
/// do not grow it without bound.
pub struct ClassCache<K, V> {
    entries: FxHashMap<K, (ClassRef, V)>,
    /// The size at which the next insertion sweeps.
    sweep_at: usize,
}

/// The smallest cache that is swept: below it, a sweep costs more than it frees.
const MIN_SWEEP: usize = 64;

impl<K, V> Default for ClassCache<K, V> {
    fn default() -> Self {
        Self { entries: FxHashMap::default(), sweep_at: MIN_SWEEP }
    }
}

impl<K: Hash + Eq, V> ClassCache<K, V> {
    /// The value cached under `key` for `class`, the type of a live object.
    pub fn get(&self, key: &K, class: *mut ffi::PyObject) -> Option<&V> {
        self.entries.get(key).filter(|(cached, _)| cached.is(class)).map(|(_, value)| value)
    }

    /// Caches `value` under `key` for `class`, replacing an entry of a class freed since.
    /// A class that takes no weak reference is not cached (looked up anew each time).
    ///
    /// # Safety
    /// `class` is a live type object; the GIL is held.
    pub unsafe fn insert(&mut self, py: Python<'_>, key: K, class: *mut ffi::PyObject, value: V) {
        let Some(class) = ClassRef::new(py, class) else {
            return;
        };
        if self.entries.len() >= self.sweep_at {
            self.entries.retain(|_, (cached, _)| cached.is_alive());
            self.sweep_at = (2 * self.entries.len()).max(MIN_SWEEP);
        }
        self.entries.insert(key, (class, value));
    }
}

/// A class as a cache holds it: its address and, for a class that can be freed (a heap
/// type: any class the program makes), a weak reference telling whether the class at
/// that address is still this one, as a freed class's address can be reused by a new
/// class. Only addresses are compared: a class that may be freed is never read.
struct ClassRef {
    address: usize,
    /// `None` for a static type, which lives as long as the interpreter.
    weak: Option<Py<PyAny>>,
}

impl ClassRef {
    /// # Safety
    /// `class` is a live type object; the GIL is held.
    unsafe fn new(py: Python<'_>, class: *mut ffi::PyObject) -> Option<Self> {
        let address = class as usize;
        if (*(class as *mut ffi::PyTypeObject)).tp_flags & ffi::Py_TPFLAGS_HEAPTYPE == 0 {
            return Some(Self { address, weak: None });
        }
        let weak = ffi::PyWeakref_NewRef(class, ptr::null_mut());
        if weak.is_null() {
            ffi::PyErr_Clear();
            return None;
        }
        Some(Self { address, weak: Some(Py::from_owned_ptr(py, weak)) })
    }

    /// Whether this is `class`: the same address, and not freed since.
    fn is(&self, class: *mut ffi::PyObject) -> bool {
        self.address == class as usize
            && self.weak.as_ref().is_none_or(|weak| {
                // SAFETY: `weak` is a live weak reference (held); its referent is read as an
                // address only (None once the class is freed, before its memory is reused).
                unsafe { (*weak.as_ptr().cast::<ffi::PyWeakReference>()).wr_object == class }
            })
    }

    fn is_alive(&self) -> bool {
        self.is(self.address as *mut ffi::PyObject)
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
        same &= shape.keys.get(i).is_some_and(|known| known.as_ptr() == key);
        i += 1;
    });
    same && i == shape.keys.len()
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
