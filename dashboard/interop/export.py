"""An encounter's charted vitals as FHIR resources: the database side of the export.

What goes out (issue "Interoperability"): accepted readings (``final``, or ``amended``
when the assistant edited a value), and readings that were rejected or marked entered in
error as ``entered-in-error`` so an EHR that already has them corrects its copy. Pending,
unassigned and discarded readings were never charted and never leave. A BMI that no device
sent is derived from the encounter's accepted weight and height, with ``derivedFrom``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from dashboard import clinical
from dashboard.interop import fhir
from dashboard.models import Device, Encounter, Patient, Reading, ReadingObservation, User
from vitals.kinds import KINDS, VITAL_SIGNS
from vitals.units import convert

MRN_SYSTEM = "urn:roomvitals:mrn"
USER_SYSTEM = "urn:roomvitals:user"
ENCOUNTER_SYSTEM = "urn:roomvitals:encounter"
EXPORTED_STATES = {
    "accepted": "final",
    "rejected": "entered-in-error",
    "entered_in_error": "entered-in-error",
}
BP_PARTS = ("systolic", "diastolic", "mean_arterial_pressure")


def patient_reference(patient: Patient) -> str:
    """A conditional reference: the EHR resolves the patient by MRN inside the transaction."""
    return f"Patient?identifier={MRN_SYSTEM}|{patient.mrn}"


def user_reference(user: User) -> str:
    return f"Practitioner?identifier={USER_SYSTEM}|{user.username}"


def device_identifier(device: Device) -> str:
    return f"{device.site}/{device.device_id}"


@dataclass(frozen=True)
class EncounterExport:
    encounter: Encounter
    patient: Patient
    records: list[fhir.VitalRecord]
    devices: list[fhir.DeviceRecord]

    def bundle(self) -> dict[str, Any]:
        return fhir.transaction_bundle(
            [fhir.observation(r) for r in self.records], [fhir.device(d) for d in self.devices]
        )


def load_encounter(db: Session, encounter_id: int) -> EncounterExport | None:
    encounter = db.get(Encounter, encounter_id)
    if encounter is None:
        return None
    readings = db.scalars(
        select(Reading)
        .where(Reading.encounter_id == encounter.id, Reading.state.in_(EXPORTED_STATES))
        .options(
            selectinload(Reading.observations),
            selectinload(Reading.device),
            selectinload(Reading.events),
        )
        .order_by(Reading.measured_at, Reading.id)
    ).all()
    users = {u.id: u for u in db.scalars(select(User))}
    return build_export(encounter, encounter.patient, readings, users)


def build_export(
    encounter: Encounter, patient: Patient, readings: list[Reading], users: dict[int, User]
) -> EncounterExport:
    records: list[fhir.VitalRecord] = []
    devices: dict[str, fhir.DeviceRecord] = {}
    charted: dict[str, fhir.VitalRecord] = {}
    for reading in readings:
        device_ref = None
        if reading.device is not None:
            device_ref = _device(reading.device, devices)
        status = EXPORTED_STATES[reading.state]
        if status == "final" and any(e.action == "edit" for e in reading.events):
            status = "amended"
        performer = users.get(reading.entered_by or reading.accepted_by or -1)
        groups = _groups([o for o in reading.observations if o.kind in VITAL_SIGNS])
        for index, group in enumerate(groups):
            record_id = reading.id if index == 0 else f"{reading.id}/{group[0].kind}"
            record = fhir.VitalRecord(
                id=record_id,
                patient_ref=patient_reference(patient),
                effective=_utc(reading.measured_at),
                values=tuple(_value(o) for o in group),
                status=status,
                encounter_ref=f"Encounter?identifier={ENCOUNTER_SYSTEM}|"
                f"{encounter.site}/{encounter.id}",
                device_ref=device_ref,
                performer_refs=(user_reference(performer),) if performer else (),
                manual=reading.source == "manual",
            )
            records.append(record)
            if status in ("final", "amended") and len(group) == 1:
                charted[group[0].kind] = record
    derived = _derived_bmi(charted, patient)
    if derived is not None:
        records.append(derived)
    return EncounterExport(encounter, patient, records, list(devices.values()))


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; everything is stored in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _groups(observations: list[ReadingObservation]) -> list[list[ReadingObservation]]:
    """A BP (systolic, diastolic, mean) is one panel; every other value is on its own."""
    pressure = [o for o in observations if o.kind in BP_PARTS]
    others = [[o] for o in observations if o.kind not in BP_PARTS]
    return ([pressure] if pressure else []) + others


def _value(obs: ReadingObservation) -> fhir.VitalValue:
    return fhir.VitalValue(
        kind=obs.kind,
        value=None if obs.value is None else Decimal(obs.value),
        unit=obs.unit,
        absent_reason=obs.absent_reason,
        mdc=obs.mdc or None,
    )


def _device(device: Device, devices: dict[str, fhir.DeviceRecord]) -> str:
    identifier = device_identifier(device)
    if identifier not in devices:
        gateway = (device.status or {}).get("gateway_id")
        parent = None
        if gateway:
            gateway_id = f"{device.site}/gateway/{gateway}"
            devices.setdefault(
                gateway_id, fhir.DeviceRecord(gateway_id, "RoomVitals gateway", "", "gateway")
            )
            parent = fhir.bundle_reference(gateway_id)
        devices[identifier] = fhir.DeviceRecord(
            identifier, device.model, device.serial, device.kind, parent
        )
    return fhir.bundle_reference(identifier)


def _derived_bmi(charted: dict[str, fhir.VitalRecord], patient: Patient) -> fhir.VitalRecord | None:
    weight, height = charted.get("weight"), charted.get("height")
    if weight is None or height is None or "bmi" in charted:
        return None
    [w], [h] = weight.values, height.values
    if w.value is None or h.value is None:
        return None
    kg = convert(w.value, w.unit, KINDS["weight"].unit)
    cm = convert(h.value, h.unit, KINDS["height"].unit)
    value = Decimal(str(clinical.bmi(kg, cm))).quantize(Decimal("0.1"), ROUND_HALF_EVEN)
    return fhir.VitalRecord(
        id=f"{weight.id}+{height.id}/bmi",
        patient_ref=patient_reference(patient),
        effective=max(weight.effective, height.effective),
        values=(fhir.VitalValue("bmi", value, "kg/m2"),),
        derived_from=(fhir.bundle_reference(weight.id), fhir.bundle_reference(height.id)),
    )
