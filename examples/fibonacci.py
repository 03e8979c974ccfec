"""Recursion: Fibonacci numbers three ways (naive, memoised, iterative)."""

from functools import cache


def naive(n: int) -> int:
    """Two recursive calls per level: the call tree doubles."""
    if n < 2:
        return n
    return naive(n - 1) + naive(n - 2)


@cache
def memoised(n: int) -> int:
    """The same recursion, each value computed once."""
    if n < 2:
        return n
    return memoised(n - 1) + memoised(n - 2)


def iterative(n: int) -> int:
    """A loop with two running values."""
    previous, current = 0, 1
    for _ in range(n):
        previous, current = current, previous + current
    return previous


def main() -> None:
    print("naive(10)     =", naive(10))
    print("memoised(40)  =", memoised(40))
    print("iterative(90) =", iterative(90))
    assert naive(12) == memoised(12) == iterative(12)


if __name__ == "__main__":
    main()
