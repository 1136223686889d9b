"""FHIR R4 Observations of accepted vitals, validated with fhir.resources (R4B models) and
the vital-signs profile invariants, and compared field by field with the official examples
in ../shared/reference/fhir/ (FHIR R4 4.0.1 core, HL7 US Core)."""

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.device import Device
from fhir.resources.R4B.observation import Observation

from dashboard.interop.fhir import (
    DeviceRecord,
    ExportError,
    VitalRecord,
    VitalValue,
    bundle_reference,
    device,
    observation,
    to_json,
    transaction_bundle,
)

REFERENCE = Path(__file__).resolve().parents[3] / "shared" / "reference" / "fhir"
WHEN = datetime(2026, 11, 27, 9, 41, 12, tzinfo=UTC)


def example(name: str) -> dict:
    path = REFERENCE / name
    if not path.exists():
        pytest.skip(f"reference example {path} is not on this machine")
    return json.loads(path.read_text())


def record(*values, **changes) -> VitalRecord:
    fields = dict(
        id="0b8f1d8e-2f7c-4a55-9d2e-4f4b9c8f1a01",
        patient_ref="Patient/example",
        effective=WHEN,
        values=values,
        encounter_ref="Encounter/17",
        device_ref="Device/cuff-1",
        performer_refs=("Practitioner/ma-1",),
    )
    fields.update(changes)
    return VitalRecord(**fields)


def validated(resource: dict) -> dict:
    """Round trip through the fhir.resources model; returns the parsed JSON again."""
    Observation.model_validate_json(to_json(resource))
    return json.loads(to_json(resource))


def check_vital_signs_invariants(resource: dict) -> None:
    """vs-1, vs-2 and vs-3 of vitalsigns.profile.json, and the VSCat slice."""
    assert len(resource["effectiveDateTime"]) >= 10  # vs-1: at least to the day
    if "component" not in resource and "hasMember" not in resource:
        assert ("valueQuantity" in resource) != ("dataAbsentReason" in resource)  # vs-2
    for component in resource.get("component", []):
        assert ("valueQuantity" in component) != ("dataAbsentReason" in component)  # vs-3
    [category] = [c for c in resource["category"] if c["coding"][0]["code"] == "vital-signs"]
    assert category["coding"][0]["system"] == (
        "http://terminology.hl7.org/CodeSystem/observation-category"
    )
    for quantity in [resource.get("valueQuantity")] + [
        c.get("valueQuantity") for c in resource.get("component", [])
    ]:
        if quantity:
            assert quantity["system"] == "http://unitsofmeasure.org" and quantity["code"]


def test_blood_pressure_panel_matches_the_official_example():
    official = example("us-core/Observation-blood-pressure.json")
    ours = validated(
        observation(
            record(
                VitalValue("systolic", Decimal(109), "mm[Hg]"),
                VitalValue("diastolic", Decimal(44), "mm[Hg]"),
            )
        )
    )
    check_vital_signs_invariants(ours)
    assert ours["code"]["coding"][0]["code"] == official["code"]["coding"][0]["code"] == "85354-9"
    assert ours["code"]["coding"][1] == {"system": "urn:iso:std:iso:11073:10101", "code": "150020"}
    assert ours["category"][0]["coding"][0]["code"] == official["category"][0]["coding"][0]["code"]
    for mine, theirs in zip(ours["component"], official["component"], strict=True):
        assert mine["code"]["coding"][0]["code"] == theirs["code"]["coding"][0]["code"]
        assert mine["valueQuantity"] == theirs["valueQuantity"]
    assert ours["status"] == official["status"] == "final"
    assert (
        "http://hl7.org/fhir/us/core/StructureDefinition/us-core-blood-pressure"
        in ours["meta"]["profile"]
    )
    assert ours["device"] == {"reference": "Device/cuff-1"}
    assert ours["performer"] == [{"reference": "Practitioner/ma-1"}]


def test_kpa_blood_pressure_is_sent_in_mmhg():
    ours = validated(
        observation(
            record(
                VitalValue("systolic", Decimal("16.0"), "kPa"),
                VitalValue("diastolic", Decimal("10.7"), "kPa"),
            )
        )
    )
    assert {c["valueQuantity"]["code"] for c in ours["component"]} == {"mm[Hg]"}
    assert ours["component"][0]["valueQuantity"]["value"] == 120.0099


def test_missing_diastolic_uses_data_absent_reason_like_the_official_example():
    official = example("r4-core/observation-example-bloodpressure-dar.json")
    ours = validated(
        observation(
            record(
                VitalValue("systolic", Decimal(109), "mm[Hg]"),
                VitalValue("diastolic", None, "mm[Hg]", absent_reason="not-a-number"),
            )
        )
    )
    check_vital_signs_invariants(ours)
    theirs = official["component"][1]["dataAbsentReason"]["coding"][0]
    mine = ours["component"][1]["dataAbsentReason"]["coding"][0]
    assert mine["system"] == theirs["system"]
    assert mine["code"] == "not-a-number"


def test_pulse_oximetry_has_both_loinc_codes_and_mdc_like_the_official_example():
    official = example("r4-core/observation-example-satO2.json")
    ours = validated(observation(record(VitalValue("spo2", Decimal(95), "%"))))
    check_vital_signs_invariants(ours)
    codes = {(c["system"], c["code"]) for c in ours["code"]["coding"]}
    theirs = {(c["system"], c["code"]) for c in official["code"]["coding"]}
    assert (
        codes
        == theirs
        == {
            ("http://loinc.org", "2708-6"),
            ("http://loinc.org", "59408-5"),
            ("urn:iso:std:iso:11073:10101", "150456"),
        }
    )
    assert ours["valueQuantity"] == {k: official["valueQuantity"][k] for k in ours["valueQuantity"]}


@pytest.mark.parametrize(
    ("file", "value"),
    [
        (
            "r4-core/observation-example-heart-rate.json",
            VitalValue("pulse_rate", Decimal(44), "/min"),
        ),
        (
            "r4-core/observation-example-respiratory-rate.json",
            VitalValue("resp_rate", Decimal(26), "/min"),
        ),
        (
            "r4-core/observation-example-body-temperature.json",
            VitalValue("temperature", Decimal("36.5"), "Cel"),
        ),
        (
            "r4-core/observation-example-body-height.json",
            VitalValue("height", Decimal("66.899999999999991"), "[in_i]"),
        ),
        ("r4-core/observation-example.json", VitalValue("weight", Decimal(185), "[lb_av]")),
        ("r4-core/observation-example-bmi.json", VitalValue("bmi", Decimal("16.2"), "kg/m2")),
    ],
)
def test_single_vitals_match_the_official_examples(file, value):
    official = example(file)
    ours = validated(observation(record(value)))
    check_vital_signs_invariants(ours)
    loinc = [c["code"] for c in official["code"]["coding"] if c["system"] == "http://loinc.org"]
    assert ours["code"]["coding"][0]["code"] in loinc
    assert ours["valueQuantity"]["code"] == official["valueQuantity"]["code"]
    assert ours["valueQuantity"]["system"] == official["valueQuantity"]["system"]
    assert Decimal(str(ours["valueQuantity"]["value"])) == Decimal(
        str(official["valueQuantity"]["value"])
    )


def test_precision_is_kept_in_the_json():
    text = to_json(
        observation(record(VitalValue("temperature", Decimal("37.0"), "Cel"))), indent=None
    )
    assert '"value":37.0,' in text


def test_nan_weight_is_absent_not_a_number():
    ours = validated(observation(record(VitalValue("weight", None, "kg", "not-a-number"))))
    check_vital_signs_invariants(ours)
    assert "valueQuantity" not in ours
    assert ours["dataAbsentReason"]["coding"][0]["code"] == "not-a-number"


def test_bmi_is_derived_from_its_inputs():
    ours = validated(
        observation(
            record(
                VitalValue("bmi", Decimal("24.7"), "kg/m2"),
                derived_from=("urn:uuid:a", "urn:uuid:b"),
                device_ref=None,
            )
        )
    )
    assert ours["derivedFrom"] == [{"reference": "urn:uuid:a"}, {"reference": "urn:uuid:b"}]


def test_entered_in_error_and_bad_records():
    ours = validated(
        observation(
            record(VitalValue("pulse_rate", Decimal(72), "/min"), status="entered-in-error")
        )
    )
    assert ours["status"] == "entered-in-error"
    with pytest.raises(ExportError, match="blood pressure without"):
        observation(record(VitalValue("systolic", Decimal(120), "mm[Hg]")))
    with pytest.raises(ExportError, match="UTC offset"):
        observation(record(VitalValue("spo2", Decimal(97), "%"), effective=datetime(2026, 1, 1)))


def test_transaction_bundle_is_idempotent_by_identifier():
    cuff = device(
        DeviceRecord(
            "main/cuff-1",
            "Omron HEM-9210T",
            "2001234",
            "bp_monitor",
            parent_ref=bundle_reference("main/gateway-a"),
        )
    )
    Device.model_validate_json(to_json(cuff))
    obs = [
        observation(
            record(
                VitalValue("pulse_rate", Decimal(72), "/min"),
                device_ref=bundle_reference("main/cuff-1"),
            )
        ),
        observation(
            record(VitalValue("spo2", Decimal(97), "%"), id="another-id", status="entered-in-error")
        ),
    ]
    bundle = transaction_bundle(obs, [cuff])
    Bundle.model_validate_json(to_json(bundle))
    first, second, third = bundle["entry"]
    assert first["request"] == {
        "method": "POST",
        "url": "Device",
        "ifNoneExist": "identifier=urn:roomvitals:device|main/cuff-1",
    }
    assert second["request"]["ifNoneExist"] == (
        "identifier=urn:roomvitals:observation|0b8f1d8e-2f7c-4a55-9d2e-4f4b9c8f1a01"
    )
    assert second["resource"]["device"]["reference"] == first["fullUrl"]
    assert third["request"] == {
        "method": "PUT",
        "url": "Observation?identifier=urn:roomvitals:observation|another-id",
    }
    assert len({e["fullUrl"] for e in bundle["entry"]}) == 3
