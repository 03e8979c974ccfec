"""docs/reliability.md lists every case of this suite: a case added without its row in
the table (what is done, what is promised, the result) fails here, and so does a row
whose case is gone."""

from __future__ import annotations

import ast
import re
from pathlib import Path

SUITE = Path(__file__).parent
DOC = SUITE.parents[1] / "docs" / "reliability.md"


def _cases() -> set[str]:
    names = set()
    for path in SUITE.glob("test_*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names.update(
            node.name
            for node in tree.body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            and node.name.startswith("test_")
        )
    return names


def _documented() -> set[str]:
    rows = (line for line in DOC.read_text(encoding="utf-8").splitlines() if line.startswith("|"))
    return {m.group(1) for row in rows if (m := re.match(r"\|\s*`(test_\w+)", row))}


def test_every_case_has_a_row_and_every_row_a_case():
    cases, documented = _cases(), _documented()
    assert sorted(cases - documented) == [], "cases without a row in docs/reliability.md"
    assert sorted(documented - cases) == [], "rows of docs/reliability.md without a case"
