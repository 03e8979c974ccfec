/* Direct access to the running frame's variables, for the recorder's per-event path.
 *
 * The public C API reads locals through a frame *object* (materialised on first use,
 * one allocation per call) and a dict (PyFrame_GetLocals: on 3.12 it also writes
 * every local into the frame's f_locals dict, which keeps deleted objects alive and
 * changes what the program's own locals() dict holds). The recorder instead reads
 * the interpreter frame's "fast locals" array by index, which is what CPython itself
 * does. That needs the interpreter's internal structs, so this file is compiled by
 * build.rs against the headers of the very interpreter the extension is built for;
 * the struct layouts therefore always match. Nothing here allocates, raises or runs
 * Python code. See src/recorder/frame.rs for the Rust side.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include "internal/pycore_code.h"
#include "internal/pycore_frame.h"

/* The calling thread's innermost Python frame (the one that fired the event), or NULL. */
_PyInterpreterFrame *ct_current_frame(void)
{
    PyThreadState *tstate = _PyThreadState_UncheckedGet(); /* exported; the GIL is held */
#if PY_VERSION_HEX >= 0x030D0000
    return tstate->current_frame;
#else
    return tstate->cframe->current_frame;
#endif
}

/* The code object a frame runs (borrowed), or NULL for a frame that runs no code. */
PyObject *ct_frame_code(_PyInterpreterFrame *frame)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *executable = frame->f_executable;
    return PyCode_Check(executable) ? executable : NULL;
#else
    return (PyObject *)frame->f_code;
#endif
}

/* The value in the frame's fast-local slot `index` (arguments, locals, cells and free
 * variables), borrowed, or NULL while unbound. A slot of a variable shared with a
 * closure holds a cell; its content is the value. */
PyObject *ct_frame_local(_PyInterpreterFrame *frame, Py_ssize_t index, int is_cell)
{
    PyObject *value = frame->localsplus[index];
    if (value != NULL && is_cell && PyCell_Check(value)) {
        return PyCell_GET(value);
    }
    return value;
}

/* The locals mapping of a frame that has one (module and class bodies), borrowed. */
PyObject *ct_frame_locals_mapping(_PyInterpreterFrame *frame) { return frame->f_locals; }

/* The frame's globals dict, borrowed. */
PyObject *ct_frame_globals(_PyInterpreterFrame *frame) { return frame->f_globals; }

/* Names (a tuple) and kinds (bytes: CO_FAST_LOCAL, _CELL, _FREE, _HIDDEN) of the fast
 * locals, in index order; both borrowed. */
PyObject *ct_code_localsplus_names(PyObject *code) { return ((PyCodeObject *)code)->co_localsplusnames; }
PyObject *ct_code_localsplus_kinds(PyObject *code) { return ((PyCodeObject *)code)->co_localspluskinds; }
