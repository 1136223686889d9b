"""Accepted vitals as FHIR R4 Observations (vital-signs profile, US Core), pure functions.

Rules from ../shared/reference/standards.md sections 6-7 and the official examples in
../shared/reference/fhir/ (FHIR R4 4.0.1 vitalsigns/bp profiles; HL7 US Core "Writing
Vital Signs"; HL7 PHD IG for the MDC codings):
- category ``vital-signs``; LOINC code first, the IEEE 11073 MDC code as a second coding;
- blood pressure is one panel (85354-9) with systolic 8480-6 and diastolic 8462-4
  components in mm[Hg] (each component needs a value or a dataAbsentReason: vs-3);
- pulse oximetry carries both 2708-6 and 59408-5 (US Core PulseOx needs both codings);
- ``device`` is the measuring device, not the gateway (the gateway is the Device's parent);
- special values (NaN, NRes) become ``dataAbsentReason``, never numbers;
- a corrected reading is sent again with status ``entered-in-error``;
- derived values (BMI) point at their inputs with ``derivedFrom``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from vitals import decimal_json
from vitals.kinds import LOINC_SYSTEM, MDC_SYSTEM, UCUM_SYSTEM, kind
from vitals.units import convert

OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
DATA_ABSENT_SYSTEM = "http://terminology.hl7.org/CodeSystem/data-absent-reason"
IDENTIFIER_SYSTEM = "urn:roomvitals:observation"
DEVICE_IDENTIFIER_SYSTEM = "urn:roomvitals:device"
VITALSIGNS_PROFILE = "http://hl7.org/fhir/StructureDefinition/vitalsigns"
US_CORE = "http://hl7.org/fhir/us/core/StructureDefinition/"

BP_PANEL = (
    "85354-9",
    "Blood pressure panel with all children optional",
    150020,
    "MDC_PRESS_BLD_NONINV",
)
PULSE_OX_LOINC = ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry")

# Profiles and the human-readable unit of each kind (UCUM code stays in Quantity.code).
_PROFILES = {
    "blood_pressure": US_CORE + "us-core-blood-pressure",
    "pulse_rate": US_CORE + "us-core-heart-rate",
    "spo2": US_CORE + "us-core-pulse-oximetry",
    "temperature": US_CORE + "us-core-body-temperature",
    "weight": US_CORE + "us-core-body-weight",
    "height": US_CORE + "us-core-body-height",
    "bmi": US_CORE + "us-core-bmi",
    "resp_rate": US_CORE + "us-core-respiratory-rate",
}
_UNIT_DISPLAY = {
    "mm[Hg]": "mmHg",
    "/min": "/min",
    "%": "%",
    "Cel": "C",
    "[degF]": "F",
    "kg": "kg",
    "[lb_av]": "lb",
    "cm": "cm",
    "[in_i]": "in",
    "kg/m2": "kg/m2",
}
# FHIR vital-signs units that a receiver must accept (valueset-ucum-vitals-common): blood
# pressure only in mm[Hg], so kPa is converted; the others keep the device's own unit.
_FHIR_UNITS = {"systolic": "mm[Hg]", "diastolic": "mm[Hg]", "mean_arterial_pressure": "mm[Hg]"}


@dataclass(frozen=True)
class VitalValue:
    kind: str
    value: Decimal | None
    unit: str
    absent_reason: str | None = None
    mdc: int | None = None


@dataclass(frozen=True)
class VitalRecord:
    """One charted measurement: a BP (systolic+diastolic[+mean]) or a single value."""

    id: str
    patient_ref: str
    effective: datetime
    values: tuple[VitalValue, ...]
    status: str = "final"  # final | amended | entered-in-error
    encounter_ref: str | None = None
    device_ref: str | None = None
    performer_refs: tuple[str, ...] = ()
    derived_from: tuple[str, ...] = ()
    manual: bool = False


class ExportError(ValueError):
    """A record that cannot be a valid vital-signs Observation; the text says why."""


def _quantity(value: VitalValue) -> dict[str, Any]:
    unit = _FHIR_UNITS.get(value.kind, value.unit)
    number = value.value if unit == value.unit else convert(value.value, value.unit, unit)
    return {
        "value": number,
        "unit": _UNIT_DISPLAY.get(unit, unit),
        "system": UCUM_SYSTEM,
        "code": unit,
    }


def _absent(reason: str | None) -> dict[str, Any]:
    code = reason or "unknown"
    return {"coding": [{"system": DATA_ABSENT_SYSTEM, "code": code}], "text": code}


def _coding_of(name: str, mdc: int | None = None) -> list[dict[str, Any]]:
    spec = kind(name)
    codings = [{"system": LOINC_SYSTEM, "code": spec.loinc, "display": spec.label}]
    if name == "spo2":
        codings.append(
            {"system": LOINC_SYSTEM, "code": PULSE_OX_LOINC[0], "display": PULSE_OX_LOINC[1]}
        )
    code = mdc or spec.mdc
    if code:
        codings.append({"system": MDC_SYSTEM, "code": str(code)})
    return codings


def _value_or_absent(target: dict[str, Any], value: VitalValue) -> None:
    if value.value is None:
        target["dataAbsentReason"] = _absent(value.absent_reason)
    else:
        target["valueQuantity"] = _quantity(value)


def observation(record: VitalRecord) -> dict[str, Any]:
    """The Observation resource of one record, as a JSON-ready dict (numbers as Decimal)."""
    if record.effective.tzinfo is None:
        raise ExportError(f"record {record.id}: effective time needs a UTC offset")
    kinds = {v.kind: v for v in record.values}
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "meta": {"profile": [VITALSIGNS_PROFILE]},
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": record.id}],
        "status": record.status,
        "category": [
            {
                "coding": [
                    {
                        "system": OBSERVATION_CATEGORY,
                        "code": "vital-signs",
                        "display": "Vital Signs",
                    }
                ],
                "text": "Vital Signs",
            }
        ],
        "subject": {"reference": record.patient_ref},
        "effectiveDateTime": record.effective.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    if "systolic" in kinds or "diastolic" in kinds:
        missing = {"systolic", "diastolic"} - set(kinds)
        if missing:
            raise ExportError(f"record {record.id}: blood pressure without {sorted(missing)}")
        name = "blood_pressure"
        resource["code"] = {
            "coding": [
                {"system": LOINC_SYSTEM, "code": BP_PANEL[0], "display": BP_PANEL[1]},
                {"system": MDC_SYSTEM, "code": str(BP_PANEL[2])},
            ],
            "text": "Blood pressure",
        }
        components = []
        for part in ("systolic", "diastolic", "mean_arterial_pressure"):
            if part not in kinds:
                continue
            component: dict[str, Any] = {
                "code": {"coding": _coding_of(part, kinds[part].mdc), "text": kind(part).label}
            }
            _value_or_absent(component, kinds[part])
            components.append(component)
        resource["component"] = components
    else:
        if len(kinds) != 1:
            raise ExportError(f"record {record.id}: one value expected, got {sorted(kinds)}")
        [(name, value)] = kinds.items()
        resource["code"] = {"coding": _coding_of(name, value.mdc), "text": kind(name).label}
        _value_or_absent(resource, value)
    profile = _PROFILES.get(name)
    if profile:
        resource["meta"]["profile"].append(profile)
    if record.encounter_ref:
        resource["encounter"] = {"reference": record.encounter_ref}
    if record.performer_refs:
        resource["performer"] = [{"reference": ref} for ref in record.performer_refs]
    if record.device_ref:
        resource["device"] = {"reference": record.device_ref}
    if record.derived_from:
        resource["derivedFrom"] = [{"reference": ref} for ref in record.derived_from]
    if record.manual:
        resource["method"] = {"text": "manual entry"}
    return resource


@dataclass(frozen=True)
class DeviceRecord:
    id: str
    model: str
    serial: str
    kind: str  # vitals DEVICE_KINDS
    parent_ref: str | None = None  # the gateway's Device


# MDC_DEV_SPEC_PROFILE_* codes (standards.md section 7, Device.type)
_DEVICE_TYPES = {
    "bp_monitor": 528391,
    "pulse_oximeter": 528388,
    "thermometer": 528392,
    "scale": 528399,
}


def device(record: DeviceRecord) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Device",
        "identifier": [{"system": DEVICE_IDENTIFIER_SYSTEM, "value": record.id}],
        "status": "active",
    }
    if record.serial:
        resource["serialNumber"] = record.serial
    if record.model:
        resource["deviceName"] = [{"name": record.model, "type": "model-name"}]
        resource["modelNumber"] = record.model
    if record.kind in _DEVICE_TYPES:
        resource["type"] = {
            "coding": [{"system": MDC_SYSTEM, "code": str(_DEVICE_TYPES[record.kind])}]
        }
    if record.parent_ref:
        resource["parent"] = {"reference": record.parent_ref}
    return resource


def transaction_bundle(
    observations: list[dict[str, Any]], devices: list[dict[str, Any]]
) -> dict[str, Any]:
    """A transaction that creates nothing new when sent twice.

    Devices and Observations are conditional creates keyed on their stable identifiers
    (``ifNoneExist``); an Observation that is ``entered-in-error`` is a conditional update,
    so a correction replaces what the EHR has.
    """
    entries = []
    for resource in devices + observations:
        [identifier] = resource["identifier"][:1]
        query = f"identifier={identifier['system']}|{identifier['value']}"
        kind_ = resource["resourceType"]
        entry: dict[str, Any] = {
            "fullUrl": f"urn:uuid:{_uuid_for(identifier['value'])}",
            "resource": resource,
        }
        if resource.get("status") == "entered-in-error":
            entry["request"] = {"method": "PUT", "url": f"{kind_}?{query}"}
        else:
            entry["request"] = {"method": "POST", "url": kind_, "ifNoneExist": query}
        entries.append(entry)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _uuid_for(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"urn:roomvitals:{value}"))


def bundle_reference(identifier_value: str) -> str:
    """How a resource in the same transaction refers to another one (its fullUrl)."""
    return f"urn:uuid:{_uuid_for(identifier_value)}"


def to_json(resource: dict[str, Any], *, indent: int | None = 2) -> str:
    """FHIR JSON with the measured digits kept exactly (FHIR decimals keep precision)."""
    return decimal_json.dumps(resource, indent=indent)
