"""`python -m bench [name ...]`: run the named benchmarks, or all of them, in order.

The exit status is 0 only when every benchmark run met its goals, so CI can gate on it.
"""
from __future__ import annotations

import sys

from bench import webhook

BENCHMARKS = {
    "webhook": webhook.run,
}


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark: {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})", file=sys.stderr)
        return 2
    results = [BENCHMARKS[name]() for name in argv or BENCHMARKS]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
