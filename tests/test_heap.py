"""The services' cycle-collector settings (roomvitals.heap), in a process of their own."""

import subprocess
import sys

PROBE = """
import gc
from roomvitals.heap import YOUNG_OBJECTS, settle_after_startup
before = gc.get_threshold()
settle_after_startup()
after = gc.get_threshold()
assert gc.get_freeze_count() > 1000, gc.get_freeze_count()
assert after == (YOUNG_OBJECTS, before[1], before[2]), (before, after)
gc.collect()  # collections still run; frozen objects are kept out of them
print("ok")
"""


def test_settling_freezes_the_startup_heap_and_enlarges_the_young_generation():
    result = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
