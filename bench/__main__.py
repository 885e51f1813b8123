"""`python -m bench [name ...] [--people N]`: run the named benchmarks, or all of them, in order.
Some are run only when named (`ON_REQUEST`): measurements for deciding where to work, without a
goal. `--people` makes the weekly cycle (and the bulk under the webhook) smaller, for a quick run.

The exit status is 0 only when every benchmark run met its goals, so CI can gate on it;
1 when a goal was missed, 2 when a benchmark could not run.
"""
from __future__ import annotations

import os
import sys

from bench import delivery, faults, imports, nlu, voucher_image, vouchers, webhook, webhook_parts
from bench.server import ServerFailed

BENCHMARKS = {
    "webhook": webhook.run,
    "nlu": nlu.run,
    "imports": imports.run,
    "voucher_image": voucher_image.run,
    "vouchers": vouchers.run,
    "delivery": delivery.run_pipeline,
    "weekly_cycle": delivery.run_cycle,
    "webhook_under_bulk": delivery.run_webhook_under_bulk,
    "reply_latency": delivery.run_reply_latency,
    "faults": faults.run,
}
ON_REQUEST = {
    "webhook_parts": webhook_parts.run,
}


def main(argv: list[str]) -> int:
    if "--people" in argv:
        at = argv.index("--people")
        if at + 1 >= len(argv) or not argv[at + 1].isdigit():
            print("--people needs a number", file=sys.stderr)
            return 2
        os.environ["BENCH_PEOPLE"] = argv[at + 1]
        argv = argv[:at] + argv[at + 2:]
    known = BENCHMARKS | ON_REQUEST
    unknown = [name for name in argv if name not in known]
    if unknown:
        print(f"unknown benchmark: {', '.join(unknown)} (known: {', '.join(known)})", file=sys.stderr)
        return 2
    try:
        results = [known[name]() for name in argv or BENCHMARKS]
    except ServerFailed as error:
        print(f"bench: {error}", file=sys.stderr)
        return 2
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
