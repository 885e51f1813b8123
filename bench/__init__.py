"""`make bench`: measurements of the service as it runs in production (gunicorn, PostgreSQL,
Redis), kept apart from the test suite because they need real services, take a minute and
answer "is it fast enough", not "is it right".

Each benchmark is a module with a `run() -> bool` (True when its goals are met), listed in
`bench/__main__.py`. Results are printed and written as JSON under var/bench/.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "var" / "bench"
