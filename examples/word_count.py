"""Text processing: count words in a short text, with a comprehension and a Counter."""

import re
import sys
from collections import Counter

TEXT = """\
A recorder writes down what a program does: every call, every return,
every line it steps through, and the values it sees along the way.
A replay reads it back, so the program can be stepped through again,
forwards and backwards, long after it has finished running.
"""

STOP_WORDS = frozenset({"a", "and", "the", "it", "so", "can", "be", "has", "what", "of"})


def words(text: str) -> list[str]:
    """The lowercase words of ``text``, without punctuation."""
    return [word.lower() for word in re.findall(r"[A-Za-z']+", text)]


def count(text: str, *, skip: frozenset[str] = STOP_WORDS) -> Counter[str]:
    """How often each word that is not a stop word occurs."""
    counts: Counter[str] = Counter()
    for word in words(text):
        if word not in skip:
            counts[word] += 1
    return counts


def main(argv: list[str]) -> int:
    top = int(argv[0]) if argv else 5
    counts = count(TEXT)
    lines = TEXT.splitlines()
    print(f"{len(lines)} lines, {sum(counts.values())} counted words, {len(counts)} distinct")
    for word, n in counts.most_common(top):
        print(f"  {word:<10} {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
