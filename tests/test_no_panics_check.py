"""`scripts/check-no-panics`, run by `make test`: Rust code outside tests may not panic on
purpose (`unwrap()`, `expect(`, `panic!` and kin), so every failure is a classified
`RecorderError`. The check passes on `src/` and catches each construct elsewhere."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "scripts" / "check-no-panics"


def check(*dirs: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, CHECK, *dirs], capture_output=True, text=True, timeout=60, check=False
    )


def test_the_core_has_no_panics_outside_tests():
    result = check(ROOT / "src")
    assert result.returncode == 0, result.stdout
    assert result.stdout == ""


def test_each_panicking_construct_outside_tests_is_reported_with_its_line(tmp_path):
    (tmp_path / "core.rs").write_text(
        textwrap.dedent("""\
            fn a(x: Option<u8>) -> u8 { x.unwrap() }
            fn b(x: Result<u8, ()>) -> u8 { x.expect("set") }
            fn c() { panic!("boom") }
            fn d() { unreachable!() }
            fn e(x: u8) { assert_eq!(x, 1) }
            fn f() { std::panic::panic_any(1) }
            fn fine(x: Option<u8>) -> u8 { x.unwrap_or(0) } // not x.unwrap()
            const TEXT: &str = "x.unwrap() and panic!";
            fn life<'a>(s: &'a str) -> char { debug_assert!(!s.is_empty()); '"' }
            #[cfg(test)]
            mod tests {
                #[test]
                fn t() { Some(1).unwrap(); panic!("in a test"); }
            }
            fn g() { todo!() } // allow-panic: a marked exception
        """)
    )
    result = check(tmp_path)
    assert result.returncode == 1
    found = [line.split(": ", 1)[0].rsplit(":", 1)[1] for line in result.stdout.splitlines()]
    assert found == ["1", "2", "3", "4", "5", "6"], result.stdout
    assert ".unwrap() outside test code" in result.stdout


def test_the_failure_injection_module_may_raise_real_panics(tmp_path):
    (tmp_path / "fault_injection.rs").write_text('fn p() { std::panic::panic_any("x") }\n')
    (tmp_path / "other.rs").write_text('fn p() { std::panic::panic_any("x") }\n')
    result = check(tmp_path)
    assert result.returncode == 1
    assert [line.split(":")[0] for line in result.stdout.splitlines()] == [
        str(tmp_path / "other.rs")
    ]
