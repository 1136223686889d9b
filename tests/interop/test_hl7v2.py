"""HL7 v2 ORU^R01 (IHE PCD-01 style) built with hl7apy, sent over MLLP to a listener that
this test starts, with ACK handling and retries."""

import itertools
import socket
import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hl7apy.core import Message
from hypothesis import given
from hypothesis import strategies as st

from dashboard.interop.fhir import VitalRecord, VitalValue
from dashboard.interop.hl7v2 import Hl7Error, Hl7Patient, MllpSender, build_oru, parse
from dashboard.interop.mllp import MllpDecoder, frame

WHEN = datetime(2026, 11, 27, 9, 41, 12, tzinfo=UTC)
PATIENT = Hl7Patient("MRN-0042", "O'Brien|Smith", "Ann^Marie", date(1961, 3, 14), "F")


def records():
    bp = VitalRecord(
        "r-bp",
        "Patient/1",
        WHEN,
        (
            VitalValue("systolic", Decimal(128), "mm[Hg]"),
            VitalValue("diastolic", Decimal(84), "mm[Hg]"),
            VitalValue("mean_arterial_pressure", None, "mm[Hg]", "not-a-number"),
        ),
        device_ref="Device/cuff",
    )
    spo2 = VitalRecord(
        "r-spo2",
        "Patient/1",
        WHEN,
        (VitalValue("spo2", Decimal(97), "%"),),
        status="entered-in-error",
    )
    resp = VitalRecord(
        "r-rr", "Patient/1", WHEN, (VitalValue("resp_rate", Decimal(16), "/min"),), manual=True
    )
    return [bp, spo2, resp]


def oru() -> str:
    return build_oru(
        PATIENT,
        records(),
        control_id="MSG0001",
        room="exam-1",
        device_ids={"Device/cuff": "2001234^Omron HEM-9210T"},
        now=WHEN,
    )


def obx_rows(message: str) -> list[list[str]]:
    return [seg.split("|") for seg in message.split("\r") if seg.startswith("OBX")]


def test_oru_follows_pcd01():
    text = oru()
    parsed = parse(text)  # strict hl7apy parse of what we built
    assert parsed.msh.msh_9.to_er7() == "ORU^R01^ORU_R01"
    assert parsed.msh.msh_21.to_er7().startswith("IHE_PCD_001")
    pid = next(s for s in text.split("\r") if s.startswith("PID")).split("|")
    # delimiters inside names are escaped, not structure
    assert pid[5] == "O'Brien\\F\\Smith^Ann\\S\\Marie"
    assert pid[7] == "19610314" and pid[8] == "F"
    rows = obx_rows(text)
    compound, systolic, diastolic, mean, spo2, resp = rows
    assert compound[3] == "150020^MDC_PRESS_BLD_NONINV^MDC" and compound[4] == "1.0.1"
    assert systolic[3] == "150021^MDC_PRESS_BLD_NONINV_SYS^MDC"
    assert (systolic[4], systolic[5], systolic[6]) == ("1.0.1.1", "128", "266016^MDC_DIM_MMHG^MDC")
    assert systolic[11] == "F" and systolic[14] == "20261127094112+0000"
    assert systolic[18] == "2001234^Omron HEM-9210T"
    assert diastolic[3].startswith("150022^") and diastolic[5] == "84"
    assert mean[5] == "" and mean[11] == "X"  # no number for a NaN
    assert spo2[3] == "150456^MDC_PULS_OXIM_SAT_O2^MDC" and spo2[11] == "W"
    assert spo2[6] == "262688^MDC_DIM_PERCENT^MDC"
    assert resp[6] == "264928^MDC_DIM_RESP_PER_MIN^MDC"
    obr7 = next(s.split("|") for s in text.split("\r") if s.startswith("OBR"))[7]
    assert obr7 == "20261127094112+0000"


def ack(message: str, code: str) -> str:
    incoming = parse(message)
    reply = Message("ACK", version="2.6")
    reply.msh.msh_9 = "ACK^R01^ACK"
    reply.msh.msh_10 = "ACK" + incoming.msh.msh_10.to_er7()
    reply.msh.msh_11 = "P"
    reply.msa.msa_1 = code
    reply.msa.msa_2 = incoming.msh.msh_10.to_er7()
    reply.msa.msa_3 = "test listener says " + code
    return reply.to_er7()


class Listener:
    """An MLLP listener on loopback that answers each message per ``script``."""

    def __init__(self, script: list[str]) -> None:
        self.script = list(script)
        self.received: list[str] = []
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.script:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return  # the test closed the listener
            with conn:
                decoder = MllpDecoder()
                messages: list[str] = []
                while not messages:
                    data = conn.recv(65536)
                    if not data:
                        break
                    messages = decoder.feed(data)
                for message in messages:
                    self.received.append(message)
                    action = self.script.pop(0)
                    if action != "drop":
                        conn.sendall(frame(ack(message, action)))

    def close(self) -> None:
        self.server.close()


def test_send_and_ack():
    listener = Listener(["AA"])
    try:
        assert MllpSender("127.0.0.1", listener.port).send(oru()) == "AA"
        assert listener.received == [oru()]
    finally:
        listener.close()


def test_retries_after_a_dropped_connection_and_an_error_ack():
    listener = Listener(["drop", "AE", "AA"])
    try:
        sender = MllpSender("127.0.0.1", listener.port, timeout=5, retries=3, backoff=0.05)
        assert sender.send(oru()) == "AA"
        assert len(listener.received) == 3
    finally:
        listener.close()


def test_a_rejection_is_not_retried_and_is_a_clear_error():
    listener = Listener(["AR", "AA"])
    try:
        sender = MllpSender("127.0.0.1", listener.port, retries=3, backoff=0.05)
        with pytest.raises(Hl7Error, match="receiver answered AR"):
            sender.send(oru())
        assert len(listener.received) == 1
    finally:
        listener.close()


def test_nobody_listening_is_a_clear_error():
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    with pytest.raises(Hl7Error, match="not accepted"):
        MllpSender("127.0.0.1", port, retries=1, backoff=0.01).send(oru())


@given(st.binary(max_size=200), st.lists(st.integers(0, 60), max_size=5))
def test_mllp_decoder_resyncs_and_never_raises(noise, cuts):
    stream = noise.replace(b"\x0b", b"") + frame("MSH|a") + frame("MSH|b")
    decoder = MllpDecoder()
    got = []
    bounds = [0, *sorted(c for c in cuts if c < len(stream)), len(stream)]
    for a, b in itertools.pairwise(bounds):
        got += decoder.feed(stream[a:b])
    assert got[-2:] == ["MSH|a", "MSH|b"]
