"""Deep recursion: call-heavy code where nearly every event is a call or a return.

Two shapes: a chain 400 frames deep (the recorder's call stack grows and shrinks by
hundreds of frames) and a branching recursion (many short calls, as in parsers and
tree walks).
"""

CHAIN_DEPTH = 400
"""Deep, yet well below the default recursion limit even with a tracer's frames on top."""


def chain_sum(n: int) -> int:
    """Sum 1..n with one frame per term."""
    if n == 0:
        return 0
    return n + chain_sum(n - 1)


def fib(n: int) -> int:
    """Branching recursion: fib(n) makes about 1.6**n calls."""
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def run(scale: float) -> int:
    """Alternate deep chains and branching recursion; return a checksum."""
    total = 0
    for _ in range(max(1, round(3500 * scale))):
        total += chain_sum(CHAIN_DEPTH)
        total += fib(12)
    return total
