"""Voucher images, measured: how long one takes to draw and how big it gets.

The weekly cycle renders one image per person in a burst, and WhatsApp media is capped in size,
so both are goals (issue: p50 ≤ 30 ms per voucher, every PNG < 1 MB). The 200 vouchers mix every
served language (right-to-left, Cyrillic, Ethiopic) and both symbologies, as a real cycle would.
"""
from __future__ import annotations

import json
import random
import statistics
import string
import time
from datetime import date

from bot.i18n import Translator
from settings import ROOT
from vouchers.image import SHAPING, render_voucher

OUT = ROOT / "var" / "bench" / "voucher_image.json"
LANGUAGES = ["ar", "en", "es", "fr", "id", "nl", "pt", "tl", "uk", "fa", "ti", "so", "tr", "ru", "am"]
COUNT = 200
P50_MS, MAX_BYTES = 30, 1_000_000


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _code(rng: random.Random, symbology: str) -> str:
    if symbology == "ean13":
        return "".join(rng.choice(string.digits) for _ in range(12))    # check digit added by the renderer
    alphabet = string.ascii_uppercase + string.digits
    return "DDA-" + "-".join("".join(rng.choice(alphabet) for _ in range(4)) for _ in range(3))


def run() -> bool:
    rng = random.Random(20261213)
    translator = Translator()
    vouchers = [
        dict(code=_code(rng, symbology), pin=f"{rng.randrange(10_000):04d}", amount_cents=rng.choice([1750, 2500,
                4000]),
             currency="EUR", valid_until=date(2026, 12, 13), language=LANGUAGES[number % len(LANGUAGES)],
             symbology=symbology, program="Direct Digital Aid", translator=translator)
        for number in range(COUNT)
        for symbology in ["ean13" if number % 4 == 3 else "code128"]
    ]

    started = time.perf_counter()
    render_voucher(**vouchers[0])  # loads the fonts and catalogs, as the first voucher of a worker would
    first_ms = (time.perf_counter() - started) * 1000

    latencies, sizes = [], []
    for voucher in vouchers:
        started = time.perf_counter()
        png = render_voucher(**voucher)
        latencies.append((time.perf_counter() - started) * 1000)
        sizes.append(len(png))

    results = {
        "vouchers": COUNT, "languages": LANGUAGES, "text_shaping_raqm": SHAPING,
        "first_render_ms": round(first_ms, 2),
        "render_ms_p50": round(statistics.median(latencies), 2),
        "render_ms_p99": round(_percentile(latencies, .99), 2),
        "bytes_median": int(statistics.median(sizes)), "bytes_max": max(sizes),
    }
    goals = {
        f"render p50 <= {P50_MS} ms": results["render_ms_p50"] <= P50_MS,
        "every PNG < 1 MB": results["bytes_max"] < MAX_BYTES,
    }
    results["goals"] = goals
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(results, indent=2, ensure_ascii=False))

    print(f"\nVoucher image ({COUNT} vouchers, {len(LANGUAGES)} languages, Code 128 and EAN-13, "
          f"text shaping {'on (libraqm)' if SHAPING else 'OFF: no libraqm'})")
    print(f"  first render {results['first_render_ms']} ms (fonts and catalogs load)")
    print(f"  render p50 {results['render_ms_p50']} ms, p99 {results['render_ms_p99']} ms")
    print(f"  size median {results['bytes_median'] / 1000:.1f} kB, max {results['bytes_max'] / 1000:.1f} kB")
    for goal, met in goals.items():
        print(f"  {'PASS' if met else 'FAIL'}  {goal}")
    print(f"  written to {OUT.relative_to(ROOT)}")
    return all(goals.values())


if __name__ == "__main__":
    raise SystemExit(0 if run() else 1)
