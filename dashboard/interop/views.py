"""FHIR read endpoints: an encounter's transaction Bundle and an Observation search.

Authenticated (physicians and assistants), and audited with the patient id like every
other view of patient data.
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, current_app, request
from sqlalchemy import select

from dashboard import audit
from dashboard.auth import actor, db_session, roles_required
from dashboard.interop import fhir
from dashboard.interop.export import load_encounter
from dashboard.models import Encounter, Patient

bp = Blueprint("fhir", __name__, url_prefix="/fhir")
FHIR_JSON = "application/fhir+json"


def _respond(resource: dict) -> Response:
    return Response(fhir.to_json(resource), mimetype=FHIR_JSON)


def _encounter_export(encounter_id: int):
    db = db_session()
    encounter = db.get(Encounter, encounter_id)
    if encounter is None or encounter.site != current_app.config["SITE"]:
        abort(404)
    return load_encounter(db, encounter_id)


@bp.get("/Bundle/encounter/<int:encounter_id>")
@roles_required("physician", "assistant")
def encounter_bundle(encounter_id: int) -> Response:
    export = _encounter_export(encounter_id)
    db = db_session()
    audit.append(
        db,
        actor(),
        "export",
        "encounter",
        encounter_id,
        patient_id=export.patient.id,
        detail={"format": "fhir-bundle"},
    )
    db.commit()
    return _respond(export.bundle())


@bp.get("/Observation")
@roles_required("physician", "assistant")
def observation_search() -> Response:
    db = db_session()
    patient_arg = request.args.get("patient", "")
    encounter_arg = request.args.get("encounter", "")
    query = select(Encounter.id).where(Encounter.site == current_app.config["SITE"])
    if encounter_arg:
        if not encounter_arg.isdigit():
            abort(400, description="encounter must be an encounter id")
        query = query.where(Encounter.id == int(encounter_arg))
    if patient_arg:
        patient = db.scalar(
            select(Patient).where(
                (Patient.mrn == patient_arg) | (Patient.id == _int_or_none(patient_arg))
            )
        )
        # An unknown patient is an empty result, as FHIR search has it, not a 404: the
        # answer must not tell whether an MRN exists (patients are shared across sites).
        query = query.where(Encounter.patient_id == (patient.id if patient else None))
    if not (patient_arg or encounter_arg):
        abort(400, description="give patient=<MRN or id> and/or encounter=<id>")
    entries = []
    patients: set[int] = set()
    for encounter_id in db.scalars(query.order_by(Encounter.started_at)):
        export = load_encounter(db, encounter_id)
        patients.add(export.patient.id)
        for record in export.records:
            entries.append(
                {
                    "fullUrl": fhir.bundle_reference(record.id),
                    "resource": fhir.observation(record),
                    "search": {"mode": "match"},
                }
            )
    for patient_id in sorted(patients):
        audit.append(
            db,
            actor(),
            "export",
            "patient",
            patient_id,
            patient_id=patient_id,
            detail={"format": "fhir-search", "encounter": encounter_arg or None},
        )
    db.commit()
    return _respond(
        {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
    )


def _int_or_none(text: str) -> int | None:
    return int(text) if text.isdigit() else None
