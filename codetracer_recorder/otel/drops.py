"""What the batching processors of the recorder's own providers drop, counted.

The SDK's ``BatchSpanProcessor`` and ``BatchLogRecordProcessor`` never block the thread
that emits: when their queue is full (``OTEL_BSP_MAX_QUEUE_SIZE`` /
``OTEL_BLRP_MAX_QUEUE_SIZE``, 2048 by default) they drop the item, and say so only in a
stdlib warning without a count that their logger passes once per 20 s. Each of them
reports every drop through its processor-metrics hook (``ProcessorMetricsT.drop_items``
of ``opentelemetry.sdk._shared_internal``); :func:`counted` wraps that hook to count the
drops, and the bridge's bounded shutdown reports the totals in one ``ERR_OTEL_EXPORT``
warning (``... telemetry was lost: 7440 log records dropped``). The hook is held by the
processor's private ``_batch_processor``, which the exact pin of the SDK in
``pyproject.toml`` keeps where it is; should it move, the processor runs uncounted (no
counter is added) and the SDK's own "Queue full" warning is reported instead. The count
is the SDK's: it checks for a full queue before it appends, so a record for which the
export worker made room in between is counted too (at most one per export batch).
"""

import threading
from typing import Any

QUEUE_FULL = "queue_full"
"""The SDK's ``error.type`` of an item dropped because the queue was full."""


class DropCounter:
    """The SDK's processor-metrics hook of one batch processor, counting queue-full drops
    and passing every call on. ``drop_items`` runs on the thread that emitted (it must
    not block: one short lock)."""

    def __init__(self, inner: Any, what: str) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.what = what
        self.dropped = 0

    def register_queue_size(self, get_queue_size: Any) -> None:
        self._inner.register_queue_size(get_queue_size)

    def drop_items(self, count: int, error_type: str = QUEUE_FULL) -> None:
        if error_type == QUEUE_FULL:
            with self._lock:
                self.dropped += count
        self._inner.drop_items(count, error_type)

    def finish_items(self, count: int) -> None:
        self._inner.finish_items(count)


def counted(processor: Any, what: str, counters: list[DropCounter]) -> Any:
    """``processor`` (a batch span or log record processor), its queue-full drops counted
    by a :class:`DropCounter` appended to ``counters``; ``what`` names the items in the
    report (``spans``, ``log records``)."""
    batch = getattr(processor, "_batch_processor", None)
    hook = getattr(batch, "_metrics", None)
    if hook is not None and all(
        callable(getattr(hook, name, None))
        for name in ("register_queue_size", "drop_items", "finish_items")
    ):
        counter = DropCounter(hook, what)
        batch._metrics = counter
        counters.append(counter)
    return processor


def report(counters: list[DropCounter]) -> str | None:
    """``"N log records dropped, M spans dropped"`` for what was dropped (kinds that lost
    nothing left out), or None when nothing was."""
    totals: dict[str, int] = {}
    for counter in counters:
        totals[counter.what] = totals.get(counter.what, 0) + counter.dropped
    lost = [f"{n} {what} dropped" for what, n in totals.items() if n]
    return ", ".join(lost) if lost else None
