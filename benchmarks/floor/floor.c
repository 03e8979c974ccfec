/* The floor: the cheapest sys.monitoring callback CPython can dispatch to.
 *
 * One builtin, `noop`, taking the vectorcall (METH_FASTCALL) convention so that
 * CPython calls it without building an argument tuple, and doing nothing. Registered
 * for every event a recorder must see (floor/run_with_floor.py does the registering),
 * it measures the cost of event dispatch alone: no recorder can be cheaper than this.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *
noop(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    (void)args;
    (void)nargs;
    Py_RETURN_NONE;
}

static PyMethodDef floor_methods[] = {
    {"noop", (PyCFunction)(void (*)(void))noop, METH_FASTCALL,
     "Accept any positional arguments and do nothing: a sys.monitoring callback."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef floor_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_floor",
    .m_doc = "A no-op C callback for measuring sys.monitoring dispatch.",
    .m_size = 0,
    .m_methods = floor_methods,
};

PyMODINIT_FUNC
PyInit__floor(void)
{
    return PyModuleDef_Init(&floor_module);
}
