"""Fixtures of the integrator's kit tests: the example plug-in installed into a directory of
its own (a real ``pip install``, entry points and all), used by subprocesses through
PYTHONPATH, so the shared virtualenv is not changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "roomvitals-example-plugin"


@pytest.fixture(scope="session")
def example_plugin(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("example-plugin")
    result = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target",
         str(target), str(EXAMPLE)],
        capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, f"pip install of the example plug-in failed:\n{result.stderr}"
    assert list(target.glob("roomvitals_example_plugin-*.dist-info")), "no dist-info installed"
    return target


def env_with(*paths: Path) -> dict[str, str]:
    """The environment of a ``roomvitals`` subprocess that also sees ``paths``."""
    extra = os.pathsep.join(str(p) for p in paths)
    old = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": extra + (os.pathsep + old if old else "")}


def roomvitals(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
    return subprocess.run([sys.executable, "-m", "roomvitals.cli", "--log-level", "warning",
                           *args], capture_output=True, text=True, env=env, timeout=timeout,
                          cwd=ROOT)
