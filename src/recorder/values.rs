//! Python objects to trace values (`ValueRecord`), bounded and without running user code.
//!
//! Runs inside `sys.monitoring` callbacks, so it must never execute Python code of the
//! program: no `__repr__`, `__len__`, `__iter__`, `__eq__` or `__hash__` of user classes.
//! Builtin containers are read through their concrete C APIs (which ignore overrides in
//! subclasses); instances of user classes are recorded as a `Struct` of their instance
//! attributes, read from `__dict__` directly; only an allow-list of builtin types with C
//! `repr`s is ever passed to `repr`. That also means no thread switch can happen while a
//! value is encoded.
//!
//! Bounds: containers nest at most [`MAX_DEPTH`] levels and show at most [`MAX_ITEMS`]
//! items, one value holds at most [`MAX_NODES`] nested values in all, strings keep at
//! most [`MAX_STR_CHARS`] characters, ints at most [`MAX_INT_BITS`] bits; whatever is cut
//! is marked with `… N more`.

use std::ffi::CStr;
use std::os::raw::c_int;
use std::ptr;

use pyo3::ffi;
use pyo3::intern;
use pyo3::prelude::*;
use runtime_tracing::{TraceLowLevelEvent, TypeId, TypeKind, ValueRecord, NONE_TYPE_ID};

use super::interner::Interner;
use super::objects::{self, ClassCache, ObjectShapes};
use super::redaction::{is_secret_name, REDACTED};

extern "C" {
    /// New in 3.12 and not in PyO3's bindings: the exception's `args`, read from the
    /// object (a subclass's `args` property is not consulted).
    fn PyException_GetArgs(exc: *mut ffi::PyObject) -> *mut ffi::PyObject;
}

pub const MAX_DEPTH: u32 = 3;
// The bounds trade detail for speed: locals are encoded again at every step, so a big
// container in scope costs its shown size on every line (see benchmarks/README.md).
pub const MAX_ITEMS: usize = 16;
pub const MAX_NODES: usize = 64;
pub const MAX_STR_CHARS: isize = 500;
pub const MAX_INT_BITS: usize = 4096;

/// Encodes values, remembering the type id of each Python type it has seen.
#[derive(Default)]
pub struct ValueEncoder {
    /// (Type object address, kind) → type id.
    types: ClassCache<(usize, u8), TypeId>,
    shapes: ObjectShapes,
    /// Nested values the value being encoded may still hold.
    budget: usize,
    /// The last static type looked up (containers are mostly of one element type). Only
    /// static types, which are never freed, so that its address alone identifies it.
    last_type: ((usize, u8), TypeId),
    /// Approximate heap bytes of the values encoded since [`ValueEncoder::take_bytes`].
    bytes: usize,
}

/// The interner and the stream buffer a value's type definitions go to.
pub struct Sink<'a> {
    pub interner: &'a mut Interner,
    pub out: &'a mut Vec<TraceLowLevelEvent>,
}

impl ValueEncoder {
    pub fn encode(&mut self, py: Python<'_>, obj: &Bound<'_, PyAny>, sink: &mut Sink<'_>) -> ValueRecord {
        self.budget = MAX_NODES;
        self.encode_at(py, obj.as_ptr(), 0, sink)
    }

    /// Like [`ValueEncoder::encode`], for a borrowed object pointer.
    pub fn encode_ptr(&mut self, py: Python<'_>, obj: *mut ffi::PyObject, sink: &mut Sink<'_>) -> ValueRecord {
        self.budget = MAX_NODES;
        self.encode_at(py, obj, 0, sink)
    }

    /// The value recorded in place of a secret-looking variable.
    /// Counted as a dropped value (`metrics`, reason `redacted`; one atomic add).
    pub fn redacted(&mut self, sink: &mut Sink<'_>) -> ValueRecord {
        crate::metrics::record_dropped_event(crate::metrics::DropReason::Redacted);
        let type_id = sink.interner.type_id(TypeKind::Error, REDACTED, sink.out);
        ValueRecord::Error { msg: REDACTED.to_owned(), type_id }
    }

    /// An exception as a value: `Error` with `"TypeName: message"`.
    pub fn exception(&mut self, py: Python<'_>, exc: &Bound<'_, PyAny>, sink: &mut Sink<'_>) -> ValueRecord {
        let ptr = exc.as_ptr();
        let type_id = self.type_id_of(py, ptr, TypeKind::Error, sink);
        // SAFETY: `ptr` is a live exception object and the GIL is held.
        ValueRecord::Error { msg: unsafe { exception_text(ptr) }, type_id }
    }

    /// A value the recorder writes itself (an exit status, a marker), not from Python.
    pub fn text(&mut self, text: &str, lang_type: &str, sink: &mut Sink<'_>) -> ValueRecord {
        let type_id = sink.interner.type_id(TypeKind::Raw, lang_type, sink.out);
        ValueRecord::Raw { r: text.to_owned(), type_id }
    }

    pub fn int(&mut self, value: i64, sink: &mut Sink<'_>) -> ValueRecord {
        let type_id = sink.interner.type_id(TypeKind::Int, "int", sink.out);
        ValueRecord::Int { i: value, type_id }
    }

    /// Approximate heap bytes of the values encoded since the last call, so the
    /// session can bound its buffers in bytes as well as in events.
    pub fn take_bytes(&mut self) -> usize {
        std::mem::take(&mut self.bytes)
    }

    fn encode_at(&mut self, py: Python<'_>, obj: *mut ffi::PyObject, depth: u32, sink: &mut Sink<'_>) -> ValueRecord {
        self.budget = self.budget.saturating_sub(1);
        self.bytes += std::mem::size_of::<ValueRecord>();
        // SAFETY (whole function): `obj` is a valid, borrowed object and the GIL is held;
        // only C-level accessors of builtin types are called.
        unsafe {
            if obj == ffi::Py_None() {
                return ValueRecord::None { type_id: NONE_TYPE_ID };
            }
            if ffi::PyBool_Check(obj) != 0 {
                let type_id = self.type_id_of(py, obj, TypeKind::Bool, sink);
                return ValueRecord::Bool { b: obj == ffi::Py_True(), type_id };
            }
            if ffi::PyLong_Check(obj) != 0 {
                let type_id = self.type_id_of(py, obj, TypeKind::Int, sink);
                return encode_int(obj, type_id);
            }
            if ffi::PyFloat_Check(obj) != 0 {
                let type_id = self.type_id_of(py, obj, TypeKind::Float, sink);
                let f = ffi::PyFloat_AsDouble(obj);
                return if f.is_finite() {
                    ValueRecord::Float { f, type_id }
                } else {
                    // JSON has no NaN or infinity; the text keeps the value readable.
                    ValueRecord::Raw { r: python_float_text(f).to_owned(), type_id }
                };
            }
            if ffi::PyUnicode_Check(obj) != 0 {
                let type_id = self.type_id_of(py, obj, TypeKind::String, sink);
                let text = str_text(obj);
                self.bytes += text.len();
                return ValueRecord::String { text, type_id };
            }
            if ffi::PyBytes_Check(obj) != 0 || ffi::PyByteArray_Check(obj) != 0 {
                let type_id = self.type_id_of(py, obj, TypeKind::Raw, sink);
                return ValueRecord::Raw { r: bytes_text(obj), type_id };
            }
            if ffi::PyExceptionInstance_Check(obj) != 0 {
                let type_id = self.type_id_of(py, obj, TypeKind::Error, sink);
                return ValueRecord::Error { msg: exception_text(obj), type_id };
            }
            if ffi::PyTuple_Check(obj) != 0 {
                let type_id = self.type_id_of(py, obj, TypeKind::Tuple, sink);
                let elements = self.items(py, obj, depth, sink, |o, i| ffi::PyTuple_GET_ITEM(o, i), ffi::PyTuple_GET_SIZE(obj));
                return ValueRecord::Tuple { elements, type_id };
            }
            if ffi::PyList_Check(obj) != 0 {
                let type_id = self.type_id_of(py, obj, TypeKind::Seq, sink);
                let elements = self.items(py, obj, depth, sink, |o, i| ffi::PyList_GET_ITEM(o, i), ffi::PyList_GET_SIZE(obj));
                return ValueRecord::Sequence { elements, is_slice: false, type_id };
            }
            if ffi::PyDict_Check(obj) != 0 {
                let type_id = self.type_id_of(py, obj, TypeKind::Seq, sink);
                return ValueRecord::Sequence { elements: self.dict_items(py, obj, depth, sink), is_slice: false, type_id };
            }
            if is_any_set(obj) {
                let type_id = self.type_id_of(py, obj, TypeKind::Set, sink);
                return ValueRecord::Sequence { elements: self.set_items(py, obj, depth, sink), is_slice: false, type_id };
            }
            if has_safe_repr(obj) {
                let type_id = self.type_id_of(py, obj, TypeKind::Raw, sink);
                return ValueRecord::Raw { r: repr_text(obj), type_id };
            }
            if let Some(r) = named_object_text(py, obj) {
                let type_id = self.type_id_of(py, obj, TypeKind::Raw, sink);
                return ValueRecord::Raw { r, type_id };
            }
            self.object(py, obj, depth, sink)
        }
    }

    /// Items of a tuple or list through `get` (a borrowed-reference accessor).
    unsafe fn items(
        &mut self,
        py: Python<'_>,
        obj: *mut ffi::PyObject,
        depth: u32,
        sink: &mut Sink<'_>,
        get: unsafe fn(*mut ffi::PyObject, ffi::Py_ssize_t) -> *mut ffi::PyObject,
        len: ffi::Py_ssize_t,
    ) -> Vec<ValueRecord> {
        if depth >= MAX_DEPTH {
            return self.cut_all(len as usize, sink);
        }
        let shown = (len as usize).min(MAX_ITEMS);
        let mut elements = Vec::with_capacity(shown + 1);
        for i in 0..shown as ffi::Py_ssize_t {
            if self.budget == 0 {
                break;
            }
            elements.push(self.encode_at(py, get(obj, i), depth + 1, sink));
        }
        if elements.len() < len as usize {
            let rest = len as usize - elements.len();
            elements.push(self.cut(rest, sink));
        }
        elements
    }

    /// A dict as a sequence of `(key, value)` tuples; values under secret-looking
    /// string keys are redacted.
    unsafe fn dict_items(&mut self, py: Python<'_>, obj: *mut ffi::PyObject, depth: u32, sink: &mut Sink<'_>) -> Vec<ValueRecord> {
        let len = ffi::PyDict_Size(obj) as usize;
        if depth >= MAX_DEPTH {
            return self.cut_all(len, sink);
        }
        let pair_type = sink.interner.type_id(TypeKind::Tuple, "tuple", sink.out);
        let mut elements = Vec::with_capacity(len.min(MAX_ITEMS) + 1);
        let (mut pos, mut key, mut value) = (0, std::ptr::null_mut(), std::ptr::null_mut());
        while elements.len() < MAX_ITEMS && self.budget > 0 && ffi::PyDict_Next(obj, &mut pos, &mut key, &mut value) != 0 {
            let secret = ffi::PyUnicode_Check(key) != 0 && is_secret_name(&str_text(key));
            let key_record = self.encode_at(py, key, depth + 1, sink);
            let value_record = if secret { self.redacted(sink) } else { self.encode_at(py, value, depth + 1, sink) };
            elements.push(ValueRecord::Tuple { elements: vec![key_record, value_record], type_id: pair_type });
        }
        if elements.len() < len {
            let rest = len - elements.len();
            elements.push(self.cut(rest, sink));
        }
        elements
    }

    /// Elements of a `set`/`frozenset` or a subclass's instance, read by the builtin set
    /// iterator (C code), never a subclass's `__iter__`.
    unsafe fn set_items(&mut self, py: Python<'_>, obj: *mut ffi::PyObject, depth: u32, sink: &mut Sink<'_>) -> Vec<ValueRecord> {
        let len = ffi::PySet_Size(obj) as usize;
        if depth >= MAX_DEPTH {
            return self.cut_all(len, sink);
        }
        let iter = (*ptr::addr_of!(ffi::PySet_Type)).tp_iter.map_or(ptr::null_mut(), |set_iter| set_iter(obj));
        if iter.is_null() {
            ffi::PyErr_Clear();
            return vec![self.cut(len, sink)];
        }
        let mut elements = Vec::with_capacity(len.min(MAX_ITEMS) + 1);
        while elements.len() < MAX_ITEMS && self.budget > 0 {
            let item = ffi::PyIter_Next(iter);
            if item.is_null() {
                break;
            }
            elements.push(self.encode_at(py, item, depth + 1, sink));
            ffi::Py_DECREF(item);
        }
        ffi::Py_DECREF(iter);
        ffi::PyErr_Clear();
        if elements.len() < len {
            let rest = len - elements.len();
            elements.push(self.cut(rest, sink));
        }
        elements
    }

    /// An instance of any other class: a `Struct` of its instance attributes when it
    /// has a `__dict__`, otherwise its type name.
    unsafe fn object(&mut self, py: Python<'_>, obj: *mut ffi::PyObject, depth: u32, sink: &mut Sink<'_>) -> ValueRecord {
        if let Some(r) = enum_member_text(obj) {
            let type_id = self.type_id_of(py, obj, TypeKind::Raw, sink);
            return ValueRecord::Raw { r, type_id };
        }
        let class = ffi::Py_TYPE(obj) as *mut ffi::PyObject;
        if depth < MAX_DEPTH {
            let dict = instance_dict(obj);
            if !dict.is_null() {
                let shape = self.shapes.dict_shape(py, class, dict, sink);
                let mut field_values = Vec::with_capacity(shape.fields.len());
                let mut fields = shape.fields.iter();
                objects::for_each_str_key(dict, |_, value| {
                    if let Some(field) = fields.next().filter(|f| f.shown) {
                        field_values.push(self.field_value(py, value, field.secret, depth, sink));
                    }
                });
                ffi::Py_DECREF(dict);
                return ValueRecord::Struct { field_values, type_id: shape.type_id };
            }
            if let Some(shape) = self.shapes.slot_shape(py, class, sink) {
                let mut field_values = Vec::with_capacity(shape.fields.len());
                for field in shape.fields.iter().filter(|f| f.shown) {
                    let value = objects::slot_value(obj, field.at);
                    field_values.push(if value.is_null() {
                        ValueRecord::None { type_id: NONE_TYPE_ID }
                    } else {
                        self.field_value(py, value, field.secret, depth, sink)
                    });
                }
                return ValueRecord::Struct { field_values, type_id: shape.type_id };
            }
        }
        let type_id = self.type_id_of(py, obj, TypeKind::Raw, sink);
        ValueRecord::Raw { r: self.shapes.opaque_text(py, obj), type_id }
    }

    /// One attribute of an object: redacted, cut when the value is out of budget, or encoded.
    unsafe fn field_value(&mut self, py: Python<'_>, value: *mut ffi::PyObject, secret: bool, depth: u32, sink: &mut Sink<'_>) -> ValueRecord {
        if secret {
            self.redacted(sink)
        } else if self.budget == 0 {
            self.cut(1, sink)
        } else {
            self.encode_at(py, value, depth + 1, sink)
        }
    }

    /// The elements of a container too deep to show: a marker, unless it is empty.
    fn cut_all(&mut self, n: usize, sink: &mut Sink<'_>) -> Vec<ValueRecord> {
        if n == 0 {
            Vec::new()
        } else {
            vec![self.cut(n, sink)]
        }
    }

    /// A marker standing for `n` items that were not recorded.
    fn cut(&mut self, n: usize, sink: &mut Sink<'_>) -> ValueRecord {
        self.text(&format!("… {n} more"), "…", sink)
    }

    /// The type id for `obj`'s Python type, interned on first sight.
    fn type_id_of(&mut self, py: Python<'_>, obj: *mut ffi::PyObject, kind: TypeKind, sink: &mut Sink<'_>) -> TypeId {
        // SAFETY: `obj` is a valid object; its type outlives it.
        let tp = unsafe { ffi::Py_TYPE(obj) };
        let key = (tp as usize, kind as u8);
        if self.last_type.0 == key {
            return self.last_type.1;
        }
        if let Some(&id) = self.types.get(&key, tp.cast()) {
            // SAFETY: as above.
            if unsafe { (*tp).tp_flags } & ffi::Py_TPFLAGS_HEAPTYPE == 0 {
                self.last_type = (key, id);
            }
            return id;
        }
        // SAFETY: as above; the GIL is held.
        unsafe {
            let id = sink.interner.type_id(kind, &type_name(obj), sink.out);
            self.types.insert(py, key, tp.cast(), id);
            id
        }
    }
}

/// `int` as `Int` when it fits in i64, else `BigInt` (big-endian magnitude).
unsafe fn encode_int(obj: *mut ffi::PyObject, type_id: TypeId) -> ValueRecord {
    let mut overflow: c_int = 0;
    let i = ffi::PyLong_AsLongLongAndOverflow(obj, &mut overflow);
    if overflow == 0 && !(i == -1 && !ffi::PyErr_Occurred().is_null()) {
        return ValueRecord::Int { i, type_id };
    }
    ffi::PyErr_Clear();
    // The bit count of the magnitude; `(size_t)-1` when even that overflows.
    let bits = ffi::_PyLong_NumBits(obj);
    if bits == usize::MAX {
        ffi::PyErr_Clear();
        return ValueRecord::Raw { r: "<int>".to_owned(), type_id };
    }
    if bits > MAX_INT_BITS {
        return ValueRecord::Raw { r: format!("<int of {bits} bits>"), type_id };
    }
    // Hex text is linear to produce and to parse, and has no length limit, unlike decimal.
    let hex = ffi::PyNumber_ToBase(obj, 16);
    if hex.is_null() {
        ffi::PyErr_Clear();
        return ValueRecord::Raw { r: "<int>".to_owned(), type_id };
    }
    let text = utf8_text(hex);
    ffi::Py_DECREF(hex);
    let negative = text.starts_with('-');
    let digits = text.trim_start_matches('-').trim_start_matches("0x");
    ValueRecord::BigInt { b: hex_to_bytes(digits), negative, type_id }
}

fn hex_to_bytes(digits: &str) -> Vec<u8> {
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => 0,
    };
    let bytes = digits.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 2 + 1);
    let (head, rest) = bytes.split_at(bytes.len() % 2);
    if let Some(&c) = head.first() {
        out.push(nibble(c));
    }
    for pair in rest.chunks(2) {
        out.push(nibble(pair[0]) << 4 | nibble(pair[1]));
    }
    out
}

fn python_float_text(f: f64) -> &'static str {
    if f.is_nan() {
        "nan"
    } else if f > 0.0 {
        "inf"
    } else {
        "-inf"
    }
}

/// A `str` as UTF-8 text, at most [`MAX_STR_CHARS`] characters (then `…`); lone
/// surrogates, which UTF-8 cannot hold, become `\udcxx` escapes.
pub(crate) unsafe fn str_text(obj: *mut ffi::PyObject) -> String {
    let len = ffi::PyUnicode_GetLength(obj);
    if len <= MAX_STR_CHARS {
        return utf8_text(obj);
    }
    let head = ffi::PyUnicode_Substring(obj, 0, MAX_STR_CHARS);
    if head.is_null() {
        ffi::PyErr_Clear();
        return "…".to_owned();
    }
    let mut text = utf8_text(head);
    ffi::Py_DECREF(head);
    text.push('…');
    text
}

/// The whole of a `str` as UTF-8 (lone surrogates as `\udcxx` escapes).
pub(crate) unsafe fn utf8_text(obj: *mut ffi::PyObject) -> String {
    let mut size: ffi::Py_ssize_t = 0;
    let data = ffi::PyUnicode_AsUTF8AndSize(obj, &mut size);
    if !data.is_null() {
        // CPython's UTF-8 form of a str is valid UTF-8 by construction.
        let bytes = std::slice::from_raw_parts(data as *const u8, size as usize);
        return std::str::from_utf8_unchecked(bytes).to_owned();
    }
    // Lone surrogates have no UTF-8 form: escape them.
    ffi::PyErr_Clear();
    let encoded = ffi::PyUnicode_AsEncodedString(obj, c"utf-8".as_ptr(), c"backslashreplace".as_ptr());
    if encoded.is_null() {
        ffi::PyErr_Clear();
        return String::new();
    }
    let text = String::from_utf8_lossy(bytes_of(encoded)).into_owned();
    ffi::Py_DECREF(encoded);
    text
}

unsafe fn bytes_of<'a>(obj: *mut ffi::PyObject) -> &'a [u8] {
    if ffi::PyByteArray_Check(obj) != 0 {
        let data = ffi::PyByteArray_AsString(obj) as *const u8;
        return std::slice::from_raw_parts(data, ffi::PyByteArray_Size(obj) as usize);
    }
    let data = ffi::PyBytes_AsString(obj) as *const u8;
    std::slice::from_raw_parts(data, ffi::PyBytes_Size(obj) as usize)
}

/// Python's `repr` of bytes (`b'a\x00'`), written in Rust and bounded.
unsafe fn bytes_text(obj: *mut ffi::PyObject) -> String {
    let data = bytes_of(obj);
    let shown = &data[..data.len().min(MAX_STR_CHARS as usize)];
    // Python quotes with " when the bytes hold a ' but no ".
    let quote = if shown.contains(&b'\'') && !shown.contains(&b'"') { '"' } else { '\'' };
    let mut out = String::with_capacity(shown.len() + 3);
    out.push_str(if ffi::PyByteArray_Check(obj) != 0 { "bytearray(b" } else { "b" });
    out.push(quote);
    for &byte in shown {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\'' if quote == '\'' => out.push_str("\\'"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push(quote);
    if ffi::PyByteArray_Check(obj) != 0 {
        out.push(')');
    }
    if shown.len() < data.len() {
        out.push('…');
    }
    out
}

/// `"ValueError: message"`, as Python prints an uncaught exception. When `str()` of the
/// exception is C code formatting plain values ([`has_plain_str`]) the message is that;
/// otherwise it is built from `args`, since the program's `__str__`, or an object of its
/// classes among what a builtin `__str__` formats, could run anything.
unsafe fn exception_text(obj: *mut ffi::PyObject) -> String {
    let name = type_name(obj);
    if has_plain_str(obj) {
        let text = ffi::PyObject_Str(obj);
        // A builtin `__str__` can return text and leave an error set (a UnicodeError whose
        // `start` is out of range): that text is garbled, and the error must not be left.
        if !text.is_null() && ffi::PyErr_Occurred().is_null() {
            let message = str_text(text);
            ffi::Py_DECREF(text);
            return if message.is_empty() { name } else { format!("{name}: {message}") };
        }
        ffi::Py_XDECREF(text);
        ffi::PyErr_Clear();
    }
    let args = PyException_GetArgs(obj);
    if args.is_null() {
        ffi::PyErr_Clear();
        return name;
    }
    let text = match ffi::PyTuple_GET_SIZE(args) {
        0 => name,
        1 if ffi::PyUnicode_Check(ffi::PyTuple_GET_ITEM(args, 0)) != 0 => {
            format!("{name}: {}", str_text(ffi::PyTuple_GET_ITEM(args, 0)))
        }
        1 if ffi::PyLong_CheckExact(ffi::PyTuple_GET_ITEM(args, 0)) != 0 => {
            format!("{name}: {}", repr_text(ffi::PyTuple_GET_ITEM(args, 0)))
        }
        1 => format!("{name} (1 argument)"),
        n => format!("{name} ({n} arguments)"),
    };
    ffi::Py_DECREF(args);
    text
}

/// Whether `str(exc)` is C code that formats plain values only: the type's `__str__` is a
/// builtin exception's own (a subclass's could run anything), and every value that one
/// formats is plain (an attribute set after construction could be any object).
unsafe fn has_plain_str(obj: *mut ffi::PyObject) -> bool {
    // Slots compared by address: each is one C function of the interpreter.
    let tp_str = (*ffi::Py_TYPE(obj)).tp_str.map(|f| f as usize);
    let str_of = |exc_type: *mut ffi::PyObject| (*exc_type.cast::<ffi::PyTypeObject>()).tp_str.map(|f| f as usize);
    if tp_str == str_of(ffi::PyExc_BaseException) || tp_str == str_of(ffi::PyExc_KeyError) || tp_str == str_of(ffi::PyExc_ImportError) {
        // `args` (ImportError: its `msg` when that is an exact str, else `args`).
        has_plain_args(obj)
    } else if tp_str == str_of(ffi::PyExc_OSError) {
        let exc = obj.cast::<ffi::PyOSErrorObject>();
        has_plain_args(obj) && [(*exc).myerrno, (*exc).strerror, (*exc).filename, (*exc).filename2].into_iter().all(|value| is_plain_or_unset(value))
    } else if tp_str == str_of(ffi::PyExc_SyntaxError) {
        // `msg`; the file name and line number only when they are a str and an exact int.
        is_plain_or_unset((*obj.cast::<ffi::PySyntaxErrorObject>()).msg)
    } else if tp_str == str_of(ffi::PyExc_UnicodeEncodeError) || tp_str == str_of(ffi::PyExc_UnicodeTranslateError) {
        unicode_error_is_plain(obj, |object| ffi::PyUnicode_CheckExact(object) != 0)
    } else if tp_str == str_of(ffi::PyExc_UnicodeDecodeError) {
        unicode_error_is_plain(obj, |object| ffi::PyBytes_CheckExact(object) != 0)
    } else {
        false
    }
}

/// A UnicodeError's `__str__` formats its `encoding` and `reason` and reads its `object`
/// as the str (bytes, for a decode error) it was made with, without checking.
unsafe fn unicode_error_is_plain(obj: *mut ffi::PyObject, object_is: impl Fn(*mut ffi::PyObject) -> bool) -> bool {
    let exc = obj.cast::<ffi::PyUnicodeErrorObject>();
    is_plain_or_unset((*exc).encoding) && is_plain_or_unset((*exc).reason) && ((*exc).object.is_null() || object_is((*exc).object))
}

/// Builtin types whose `repr` is C code that cannot run user code and shows no address.
#[inline]
unsafe fn has_safe_repr(obj: *mut ffi::PyObject) -> bool {
    ffi::PyComplex_CheckExact(obj) != 0 || ffi::PyRange_Check(obj) != 0 || (ffi::PySlice_Check(obj) != 0 && has_plain_bounds(obj))
}

/// Whether a slice holds plain values only: its `repr` is theirs.
unsafe fn has_plain_bounds(slice: *mut ffi::PyObject) -> bool {
    let slice = slice.cast::<ffi::PySliceObject>();
    [(*slice).start, (*slice).stop, (*slice).step].into_iter().all(|value| is_plain(value))
}

/// Classes, functions and modules, named without their address (which would differ per
/// run) and without calling their `repr` (a module's runs Python code in importlib, a
/// metaclass's is the program's), read from the objects themselves.
unsafe fn named_object_text(py: Python<'_>, obj: *mut ffi::PyObject) -> Option<String> {
    let (kind, name) = if ffi::PyType_Check(obj) != 0 {
        return Some(class_text(py, obj.cast()));
    } else if ffi::PyFunction_Check(obj) != 0 {
        ("function", (*obj.cast::<ffi::PyFunctionObject>()).func_qualname)
    } else if ffi::PyModule_CheckExact(obj) != 0 {
        // From the module's dict: a missing `__name__` must not reach the module's
        // `__getattr__` (PEP 562).
        let dict = ffi::PyModule_GetDict(obj);
        ("module", if dict.is_null() { dict } else { ffi::PyDict_GetItem(dict, intern!(py, "__name__").as_ptr()) })
    } else {
        return None;
    };
    Some(if !name.is_null() && ffi::PyUnicode_Check(name) != 0 {
        format!("<{kind} {}>", str_text(name))
    } else {
        format!("<{kind}>")
    })
}

/// `<class 'module.Qualname'>`, as `type.__repr__` writes it, from the type object's own
/// fields and dict: neither a metaclass's `__repr__` nor its `__getattribute__` is asked.
unsafe fn class_text(py: Python<'_>, tp: *mut ffi::PyTypeObject) -> String {
    // A static type's `tp_name` is its module and name already (`collections.OrderedDict`).
    if (*tp).tp_flags & ffi::Py_TPFLAGS_HEAPTYPE != 0 && !(*tp).tp_dict.is_null() {
        let module = ffi::PyDict_GetItem((*tp).tp_dict, intern!(py, "__module__").as_ptr());
        let qualname = (*tp.cast::<ffi::PyHeapTypeObject>()).ht_qualname;
        if !module.is_null()
            && ffi::PyUnicode_Check(module) != 0
            && ffi::PyUnicode_CompareWithASCIIString(module, c"builtins".as_ptr()) != 0
            && !qualname.is_null()
        {
            return format!("<class '{}.{}'>", str_text(module), str_text(qualname));
        }
    }
    format!("<class '{}'>", CStr::from_ptr((*tp).tp_name).to_string_lossy())
}

unsafe fn repr_text(obj: *mut ffi::PyObject) -> String {
    let repr = ffi::PyObject_Repr(obj);
    if repr.is_null() {
        ffi::PyErr_Clear();
        return format!("<{} object>", type_name(obj));
    }
    let text = str_text(repr);
    ffi::Py_DECREF(repr);
    text
}

/// True when every argument of the exception is plain ([`is_plain`]).
unsafe fn has_plain_args(obj: *mut ffi::PyObject) -> bool {
    let args = PyException_GetArgs(obj);
    if args.is_null() {
        ffi::PyErr_Clear();
        return false;
    }
    let plain = (0..ffi::PyTuple_GET_SIZE(args)).all(|i| is_plain(ffi::PyTuple_GET_ITEM(args, i)));
    ffi::Py_DECREF(args);
    plain
}

/// A str, int, float, bool, bytes or None: their `str` and `repr` are C code.
unsafe fn is_plain(obj: *mut ffi::PyObject) -> bool {
    obj == ffi::Py_None()
        || ffi::PyUnicode_CheckExact(obj) != 0
        || ffi::PyLong_CheckExact(obj) != 0
        || ffi::PyFloat_CheckExact(obj) != 0
        || ffi::PyBool_Check(obj) != 0
        || ffi::PyBytes_CheckExact(obj) != 0
}

/// Plain, or an attribute never set (null), which a builtin `__str__` skips.
unsafe fn is_plain_or_unset(obj: *mut ffi::PyObject) -> bool {
    obj.is_null() || is_plain(obj)
}

/// A set or frozenset, or an instance of a subclass of either (recorded like its base).
/// The size test is cheap and fails for every object not laid out as a set, sparing
/// those the two subtype walks of `PyAnySet_Check`.
#[inline]
unsafe fn is_any_set(obj: *mut ffi::PyObject) -> bool {
    ffi::PyAnySet_CheckExact(obj) != 0
        || ((*ffi::Py_TYPE(obj)).tp_basicsize >= std::mem::size_of::<ffi::PySetObject>() as ffi::Py_ssize_t && ffi::PyAnySet_Check(obj) != 0)
}

/// `Color.RED` for a member of an `enum.Enum` (whose class's metaclass is `EnumType`),
/// read from the member's `_name_` attribute without running its code.
unsafe fn enum_member_text(obj: *mut ffi::PyObject) -> Option<String> {
    let metatype = ffi::Py_TYPE(ffi::Py_TYPE(obj) as *mut ffi::PyObject);
    let metaname = CStr::from_ptr((*metatype).tp_name).to_bytes();
    if metaname != b"EnumType" && metaname != b"EnumMeta" {
        return None;
    }
    let dict = instance_dict(obj);
    if dict.is_null() {
        return None;
    }
    let member = ffi::PyDict_GetItemString(dict, c"_name_".as_ptr());
    let text = (!member.is_null() && ffi::PyUnicode_Check(member) != 0).then(|| format!("{}.{}", type_name(obj), str_text(member)));
    ffi::Py_DECREF(dict);
    text
}

/// The instance `__dict__` of `obj` (a new reference), or null when it has none.
unsafe fn instance_dict(obj: *mut ffi::PyObject) -> *mut ffi::PyObject {
    let tp = ffi::Py_TYPE(obj);
    if (*tp).tp_dictoffset == 0 {
        return std::ptr::null_mut();
    }
    // The generic getter reads the slot directly, bypassing any `__getattribute__`.
    let dict = ffi::PyObject_GenericGetDict(obj, std::ptr::null_mut());
    if dict.is_null() || ffi::PyDict_Check(dict) == 0 {
        ffi::PyErr_Clear();
        if !dict.is_null() {
            ffi::Py_DECREF(dict);
        }
        return std::ptr::null_mut();
    }
    dict
}

/// The name of `obj`'s type (`int`, `Point`, `collections.OrderedDict`).
pub(crate) unsafe fn type_name(obj: *mut ffi::PyObject) -> String {
    CStr::from_ptr((*ffi::Py_TYPE(obj)).tp_name).to_string_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_digits_become_big_endian_bytes() {
        assert_eq!(hex_to_bytes("1"), vec![0x01]);
        assert_eq!(hex_to_bytes("100"), vec![0x01, 0x00]);
        assert_eq!(hex_to_bytes("ffff"), vec![0xff, 0xff]);
    }

    #[test]
    fn non_finite_floats_have_python_spelling() {
        assert_eq!(python_float_text(f64::NAN), "nan");
        assert_eq!(python_float_text(f64::INFINITY), "inf");
        assert_eq!(python_float_text(f64::NEG_INFINITY), "-inf");
    }
}
