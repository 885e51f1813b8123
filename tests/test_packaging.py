"""The wheel is the service: built with `pip wheel .`, installed into a fresh virtualenv and run
from an empty directory (so nothing comes from this checkout), it lists its routes and checks
its flows. A package or content folder missing from pyproject.toml fails here, not in production.

The new virtualenv borrows the already installed dependencies through a .pth file rather than
downloading them, which keeps the test to seconds; the project itself comes only from the wheel.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from nlu.classifier import CACHE, data_fingerprint

ROOT = Path(__file__).resolve().parent.parent


def run(*command, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    if not any(ROOT.glob("translations/*/LC_MESSAGES/messages.mo")):
        pytest.fail("compile the catalogs first (make install does)")
    base = tmp_path_factory.mktemp("wheel")
    built = run(sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q",
                "-w", str(base / "dist"), cwd=base)
    assert built.returncode == 0, built.stderr
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    venv = base / "venv"
    assert run(sys.executable, "-m", "venv", "--without-pip", str(venv), cwd=base).returncode == 0
    python = venv / "bin" / "python"
    site = Path(run(str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])",
                    cwd=base).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    wheel = next((base / "dist").glob("*.whl"))
    done = run(sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q",
               str(wheel), cwd=base)
    assert done.returncode == 0, done.stderr
    model = CACHE / f"intents-{data_fingerprint()}.pickle"
    if model.exists():  # the trained classifier is a cache: copying it only saves training it again
        (site / "var" / "nlu").mkdir(parents=True)
        shutil.copy(model, site / "var" / "nlu" / model.name)
    return python


def service(python: Path, tmp_path: Path, *arguments: str) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "SECRET_KEY": "wheel-test-secret-key-0123",
           "DDA_ENCRYPTION_KEY": "wheel-test-encryption-key-0123",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'dda.sqlite3'}"}
    return run(str(python), *arguments, cwd=tmp_path, env=env)


def test_the_installed_service_comes_from_the_wheel(installed, tmp_path):
    where = service(installed, tmp_path, "-c", "import webhook, referrals.actions; print(webhook.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(installed.parent.parent)


def test_the_installed_service_lists_its_routes(installed, tmp_path):
    routes = service(installed, tmp_path, "-m", "flask", "--app", "webhook", "routes")
    assert routes.returncode == 0, routes.stderr
    for route in ("/twilio/whatsapp", "/twilio/status", "/healthz", "/staff/login", "/api/pos/redeem"):
        assert route in routes.stdout


def test_the_installed_service_checks_its_flows(installed, tmp_path):
    checked = service(installed, tmp_path, "-m", "flask", "--app", "webhook", "flows", "check")
    assert checked.returncode == 0, checked.stderr
    assert "all valid" in checked.stdout


def test_the_installed_service_draws_a_voucher_in_tigrinya(installed, tmp_path):
    drawn = service(installed, tmp_path, "-c", "from vouchers.image import FONTS; "
                    "print(sorted(path.name for path in FONTS.glob('*.ttf')))")
    assert drawn.returncode == 0, drawn.stderr
    assert "NotoSansEthiopic-Regular.ttf" in drawn.stdout
