"""Record tests/captures/<protocol>.jsonl from each built-in serial simulator, with the real
recorder (``roomvitals record``'s code): ``.venv/bin/python -m tests.integrator.make_captures``.

Each simulator gets a state that makes readings (a patient on the scale, a finger in the
oximeter, a blood pressure measured); the ESC scale and the Tanita carry a patient ID so the
capture shows it stripped. tests/integrator/test_captures.py replays every file.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from roomvitals.capture_cmd import SerialRecorder
from simulators.plugins import make_serial
from simulators.serial.device import Weighing
from simulators.serial.pty_port import PtyPort

OUT = Path(__file__).parent.parent / "captures"
SECONDS = {"nonin-df13": 5.0, "nonin-df8": 6.0, "nonin-ascii": 4.0, "masimo-ascii": 4.0}


def prepare(protocol: str, device) -> None:
    if protocol == "healthometer-esc":
        device.set(weight=Decimal("84.6"), patient_id="DOE JANE")
    elif isinstance(device.state, Weighing):
        device.set(weight=Decimal("72.4"))
        if protocol == "tanita-csv":
            device.patient_id = "0000PAT-4711"
    if protocol == "nonin-df13":
        device.clock_offset = timedelta(hours=-2)  # the records carry the device time
        device.spot_check_s = 1.0


def record(protocol: str, workdir: Path) -> Path:
    port = PtyPort(workdir / protocol)
    device = make_serial(protocol, port)
    device.start()
    # After the recorder has opened the port (pyserial flushes what came before): a Tanita
    # sends its one line per weighing as soon as the weight is on the platform.
    threading.Timer(0.5, prepare, (protocol, device)).start()
    if protocol == "dinamap":
        threading.Timer(0.5, device.measure).start()
    out = OUT / f"{protocol}.jsonl"
    recorder = SerialRecorder(str(port.path), protocol, out, poll_interval=0.5,
                              source=f"simulator {protocol} (simulators/, not a real device)")
    try:
        recorder.run(threading.Event(), SECONDS.get(protocol, 3.0))
    finally:
        device.stop()
    print(f"{out.name}: {len(recorder.readings)} readings", flush=True)
    return out


def main(protocols: list[str]) -> int:
    from drivers.serial import PROTOCOLS

    with tempfile.TemporaryDirectory() as tmp:
        for protocol in protocols or PROTOCOLS:
            record(protocol, Path(tmp))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
