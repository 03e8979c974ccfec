"""A real OpenTelemetry Collector for the end-to-end tests, and reading what it wrote.

The Collector is the one `make collector` builds from its Go modules
(`collector-config/`), run with the dev pipeline (`collector-config/dev.yaml`) on free
loopback ports, writing OTLP/JSON lines per signal into a directory of the test's own.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
BINARY = ROOT / "collector-config" / "bin" / "otelcol"
DEV_CONFIG = ROOT / "collector-config" / "dev.yaml"

READY_TIMEOUT = 30.0
"""Seconds a starting Collector gets to open its ports."""
OUTPUT_TIMEOUT = 20.0
"""Seconds to wait for telemetry to reach the files (batch 200 ms + file flush 100 ms)."""


def ensure_built() -> Path:
    """The Collector binary, built with `make collector` if it is not there yet. A
    machine that cannot build it fails the tests with make's message (never a skip)."""
    if not BINARY.exists():
        build = subprocess.run(
            ["make", "collector"], cwd=ROOT, capture_output=True, text=True, check=False
        )
        if build.returncode != 0:
            raise RuntimeError(f"`make collector` failed:\n{build.stdout}\n{build.stderr}")
    return BINARY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for[T](what: str, probe: Callable[[], T | None], timeout: float) -> T:
    """Polls `probe` until it returns something other than None, at most `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class Collector:
    """A running Collector; `.endpoint(protocol)` is where to send OTLP."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.grpc_port = free_port()
        self.http_port = free_port()
        self.log = out / "collector.log"
        env = {
            **os.environ,
            "CODETRACER_COLLECTOR_OUT": str(out),
            "CODETRACER_COLLECTOR_GRPC_PORT": str(self.grpc_port),
            "CODETRACER_COLLECTOR_HTTP_PORT": str(self.http_port),
        }
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [str(ensure_built()), f"--config={DEV_CONFIG}"],
            env=env,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for("the Collector to listen", self._listening, READY_TIMEOUT)

    def _listening(self) -> bool | None:
        if self.process.poll() is not None:
            raise AssertionError(f"the Collector exited:\n{self.log.read_text(errors='replace')}")
        for port in (self.grpc_port, self.http_port):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) != 0:
                    return None
        return True

    def endpoint(self, protocol: str) -> str:
        port = self.grpc_port if protocol == "grpc" else self.http_port
        return f"http://127.0.0.1:{port}"

    def kill(self) -> None:
        """Kills the Collector at once (SIGKILL), as a crash would."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()

    # ---- what arrived ---------------------------------------------------------------

    def requests(self, signal_name: str) -> list[dict[str, Any]]:
        """Every OTLP/JSON export request written so far for `signal_name`
        (`traces`, `logs` or `metrics`)."""
        path = self.out / f"{signal_name}.jsonl"
        if not path.exists():
            return []
        lines = path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def spans(self) -> list[Item]:
        return list(_items(self.requests("traces"), "resourceSpans", "scopeSpans", "spans"))

    def log_records(self) -> list[Item]:
        return list(_items(self.requests("logs"), "resourceLogs", "scopeLogs", "logRecords"))

    def metric_points(self) -> list[Item]:
        """One item per data point, with the metric's name under `item["name"]`."""
        points = []
        for metric in _items(
            self.requests("metrics"), "resourceMetrics", "scopeMetrics", "metrics"
        ):
            data = metric.get("sum") or metric.get("gauge") or metric.get("histogram") or {}
            for point in data.get("dataPoints", []):
                points.append(Item(metric.resource, {**point, "name": metric["name"]}))
        return points

    def wait_until[T](self, what: str, probe: Callable[[], T | None]) -> T:
        return wait_for(what, probe, OUTPUT_TIMEOUT)


class Item(dict[str, Any]):
    """A span, log record or metric (a dict as in OTLP/JSON) with its resource's
    attributes as `.resource` and its own as `.attrs`, both plain dicts."""

    def __init__(self, resource: dict[str, Any], fields: dict[str, Any]) -> None:
        super().__init__(fields)
        self.resource = resource
        self.attrs = attributes(fields.get("attributes", []))


def _items(requests: list[dict[str, Any]], top: str, scope_key: str, leaf: str) -> Iterator[Item]:
    for request in requests:
        for resource_block in request.get(top, []):
            resource = attributes(resource_block.get("resource", {}).get("attributes", []))
            for scope_block in resource_block.get(scope_key, []):
                for item in scope_block.get(leaf, []):
                    yield Item(resource, item)


def attributes(pairs: list[dict[str, Any]]) -> dict[str, Any]:
    """OTLP/JSON `[{key, value: {stringValue|intValue|…}}]` as a plain dict."""
    result: dict[str, Any] = {}
    for pair in pairs:
        value = pair.get("value", {})
        if "stringValue" in value:
            result[pair["key"]] = value["stringValue"]
        elif "intValue" in value:
            result[pair["key"]] = int(value["intValue"])
        elif "doubleValue" in value:
            result[pair["key"]] = float(value["doubleValue"])
        elif "boolValue" in value:
            result[pair["key"]] = bool(value["boolValue"])
        else:
            result[pair["key"]] = value
    return result
