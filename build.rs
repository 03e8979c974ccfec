//! Build steps beside the Rust code:
//! - `cfg(Py_3_13)` and friends from PyO3, for code that differs between interpreters;
//! - `src/c/frame_access.c`, compiled against the headers of the interpreter the
//!   extension is built for (see that file for why the per-event path needs it).
use std::process::Command;

fn main() {
    pyo3_build_config::use_pyo3_cfgs();
    let config = pyo3_build_config::get();
    let python = config.executable.clone().unwrap_or_else(|| "python3".to_owned());
    let include = Command::new(&python)
        .args(["-c", "import sysconfig; print(sysconfig.get_paths()['include'])"])
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        .unwrap_or_else(|| panic!("cannot ask {python} for its include directory")); // allow-panic: build script
    println!("cargo:rerun-if-changed=src/c/frame_access.c");
    cc::Build::new().file("src/c/frame_access.c").include(&include).warnings(true).compile("frame_access");
}
