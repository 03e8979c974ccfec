"""Fixtures of the end-to-end tests: a real Collector per test, stopped afterwards."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from collector import Collector  # found through the path set just above


@pytest.fixture
def collector(tmp_path: Path) -> Iterator[Collector]:
    out = tmp_path / "collector-out"
    out.mkdir()
    running = Collector(out)
    try:
        yield running
    finally:
        running.stop()
