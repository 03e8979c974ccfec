//! Exposes `cfg(Py_3_13)` and friends, so code that differs between interpreter
//! versions (frame locals) is chosen at compile time for the interpreter being built for.
fn main() {
    pyo3_build_config::use_pyo3_cfgs();
}
