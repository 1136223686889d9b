"""HL7 v2.6 ORU^R01 in the IHE PCD-01 style, built and checked with hl7apy; MLLP sending.

Layout from ../shared/reference/standards.md section 7 (IHE PCD Technical Framework,
PCD-01 "Communicate PCD Data"; Continua/PHD style): MDC codes in OBX-3 with the dotted
containment path in OBX-4, MDC units in OBX-6, the measuring device's identity in OBX-18,
the observation time in OBR-7 and OBX-14. A reading entered in error is sent as OBX-11 "W"
(wrong, replace), a final one as "F".
"""

from __future__ import annotations

import logging
import socket
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message
from hl7apy.parser import parse_message

from dashboard.interop.fhir import VitalRecord
from dashboard.interop.mllp import MllpDecoder, frame
from vitals.kinds import MDC_REFS, MDC_RESP_PER_MIN, MDC_UNITS, kind

log = logging.getLogger(__name__)

PCD_01_PROFILE = "IHE_PCD_001^IHE PCD^1.3.6.1.4.1.19376.1.6.1.1.1^ISO"
MONITORING = "182777000^monitoring of patient^SNOMED-CT"
# MDC_PRESS_BLD_NONINV: the compound BP metric that contains systolic, diastolic and mean.
BP_COMPOUND = "150020^MDC_PRESS_BLD_NONINV^MDC"


class Hl7Error(RuntimeError):
    """A message that cannot be built, or a receiver that refused or did not answer."""


@dataclass(frozen=True)
class Hl7Patient:
    mrn: str
    family: str
    given: str
    birth_date: date
    sex: str  # F | M | O | U (HL7 table 0001)
    assigning_authority: str = "RoomVitals"


def _ts(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def _escape(text: str) -> str:
    # HL7 v2 escape sequences (v2.6 section 2.7) for the delimiters, in escape-first order.
    for char, code in (
        ("\\", "\\E\\"),
        ("|", "\\F\\"),
        ("^", "\\S\\"),
        ("&", "\\T\\"),
        ("~", "\\R\\"),
    ):
        text = text.replace(char, code)
    return text


def _obx_code(name: str, mdc: int | None) -> str:
    spec = kind(name)
    code = mdc or spec.mdc
    ref = MDC_REFS.get(code, spec.mdc_ref)
    return f"{code}^{ref}^MDC"


def _obx_unit(name: str, unit: str) -> str:
    code, ref = MDC_RESP_PER_MIN if name == "resp_rate" else MDC_UNITS[unit]
    return f"{code}^{ref}^MDC"


def build_oru(
    patient: Hl7Patient,
    records: list[VitalRecord],
    *,
    control_id: str,
    room: str = "",
    device_ids: dict[str, str] | None = None,
    sending_facility: str = "",
    now: datetime | None = None,
) -> str:
    """One ORU^R01 for an encounter's vitals; ``device_ids`` maps a record's device_ref to
    the OBX-18 identity (e.g. ``serial^model``). Returns ER7 text (segments end with CR)."""
    message = Message("ORU_R01", version="2.6", validation_level=VALIDATION_LEVEL.STRICT)
    message.msh.msh_3 = "RoomVitals"
    if sending_facility:
        message.msh.msh_4 = _escape(sending_facility)
    message.msh.msh_7 = _ts(now or datetime.now(UTC))
    message.msh.msh_9 = "ORU^R01^ORU_R01"
    message.msh.msh_10 = control_id
    message.msh.msh_11 = "P"
    message.msh.msh_15 = "AL"
    message.msh.msh_16 = "NE"
    message.msh.msh_21 = PCD_01_PROFILE
    result = message.add_group("ORU_R01_PATIENT_RESULT")
    patient_group = result.add_group("ORU_R01_PATIENT")
    pid = patient_group.pid
    pid.pid_3 = f"{_escape(patient.mrn)}^^^{_escape(patient.assigning_authority)}^MR"
    pid.pid_5 = f"{_escape(patient.family)}^{_escape(patient.given)}"
    pid.pid_7 = patient.birth_date.strftime("%Y%m%d")
    pid.pid_8 = patient.sex
    if room:
        visit = patient_group.add_group("ORU_R01_VISIT")
        visit.pv1.pv1_2 = "O"
        visit.pv1.pv1_3 = f"^^^^^^^^{_escape(room)}"
    device_ids = device_ids or {}
    for index, record in enumerate(records, start=1):
        order = result.add_group("ORU_R01_ORDER_OBSERVATION")
        order.obr.obr_1 = str(index)
        order.obr.obr_3 = f"{record.id}^RoomVitals"
        order.obr.obr_4 = MONITORING
        order.obr.obr_7 = _ts(record.effective)
        status = "W" if record.status == "entered-in-error" else "F"
        compound = len(record.values) > 1
        set_id = 0
        if compound:
            set_id += 1
            obx = order.add_group("ORU_R01_OBSERVATION").obx
            obx.obx_1 = str(set_id)
            obx.obx_3 = BP_COMPOUND
            obx.obx_4 = "1.0.1"
            obx.obx_11 = status
            obx.obx_14 = _ts(record.effective)
        for position, value in enumerate(record.values, start=1):
            set_id += 1
            obx = order.add_group("ORU_R01_OBSERVATION").obx
            obx.obx_1 = str(set_id)
            obx.obx_2 = "NM"
            obx.obx_3 = _obx_code(value.kind, value.mdc)
            obx.obx_4 = f"1.0.1.{position}" if compound else "1.0.0.1"
            if value.value is not None:
                obx.obx_5 = format(value.value, "f")
            obx.obx_6 = _obx_unit(value.kind, value.unit)
            # OBX-11 "X": the device could not obtain a result (NaN, NRes)
            obx.obx_11 = status if value.value is not None else "X"
            obx.obx_14 = _ts(record.effective)
            if record.device_ref and record.device_ref in device_ids:
                obx.obx_18 = device_ids[record.device_ref]
    if not message.validate():
        raise Hl7Error("the ORU^R01 did not pass hl7apy's strict validation")
    return message.to_er7()


def parse(er7: str) -> Message:
    return parse_message(er7.replace("\n", "\r"), validation_level=VALIDATION_LEVEL.STRICT)


@dataclass
class MllpSender:
    """Sends over MLLP and waits for the ACK; retries with backoff on no answer or AE/AR."""

    host: str
    port: int
    timeout: float = 10.0
    retries: int = 3
    backoff: float = 1.0

    def send(self, er7: str) -> str:
        """The receiver's ACK code (AA/CA) for ``er7``; raises ``Hl7Error`` after the retries."""
        control_id = parse(er7).msh.msh_10.to_er7()
        last_error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                code, text = self._exchange(er7, control_id)
            except (OSError, TimeoutError) as exc:
                last_error = f"{self.host}:{self.port}: {exc}"
                log.warning("HL7 send attempt %d failed: %s", attempt + 1, last_error)
                continue
            if code in ("AA", "CA"):
                return code
            last_error = f"receiver answered {code}: {text}"
            if code in ("AR", "CR"):
                break  # rejected: sending the same message again will not help
            log.warning("HL7 send attempt %d: %s", attempt + 1, last_error)
        raise Hl7Error(f"message {control_id} not accepted: {last_error}")

    def _exchange(self, er7: str, control_id: str) -> tuple[str, str]:
        with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
            sock.sendall(frame(er7))
            decoder = MllpDecoder()
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                data = sock.recv(65536)
                if not data:
                    raise ConnectionError("receiver closed the connection without an ACK")
                for reply in decoder.feed(data):
                    ack = parse_message(reply.replace("\n", "\r"))
                    if ack.msa.msa_2.to_er7() != control_id:
                        continue  # an ACK of another message
                    return ack.msa.msa_1.to_er7(), ack.msa.msa_3.to_er7()
            raise TimeoutError(f"no ACK within {self.timeout} s")
