"""The benchmark harness works: ``bench/run_all.py --quick --only <one>`` produces a ratio.

Only that a number came out is checked, never how good it is (the machine is shared).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.timeout(120)
def test_run_all_quick_writes_a_ratio_with_its_baseline(tmp_path, mosquitto):
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run_all.py"), "--quick", "--only",
         "gateway_throughput", "--out", str(out)],
        capture_output=True, text=True, timeout=110, cwd=ROOT,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    result = json.loads(out.read_text())["gateway_throughput"]
    assert set(result) >= {"value", "baseline", "ratio", "goal", "unit"}
    assert result["baseline"] > 0 and math.isfinite(result["ratio"]) and result["ratio"] > 0
    assert "ratio" in done.stdout and "baseline" in done.stdout
