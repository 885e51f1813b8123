"""`python -m bench [name ...]`: run the named benchmarks, or all of them, in order.

The exit status is 0 only when every benchmark run met its goals, so CI can gate on it;
1 when a goal was missed, 2 when a benchmark could not run.
"""
from __future__ import annotations

import sys

from bench import imports, nlu, voucher_image, vouchers, webhook
from bench.server import ServerFailed

BENCHMARKS = {
    "webhook": webhook.run,
    "nlu": nlu.run,
    "imports": imports.run,
    "voucher_image": voucher_image.run,
    "vouchers": vouchers.run,
}


def main(argv: list[str]) -> int:
    unknown = [name for name in argv if name not in BENCHMARKS]
    if unknown:
        print(f"unknown benchmark: {', '.join(unknown)} (known: {', '.join(BENCHMARKS)})", file=sys.stderr)
        return 2
    try:
        results = [BENCHMARKS[name]() for name in argv or BENCHMARKS]
    except ServerFailed as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
