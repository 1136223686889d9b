"""Exporting charted vitals from the database: the committed example, the FHIR endpoints,
the CLI, and pushing to a FHIR server (a transaction endpoint started by the test)."""

import json
import threading
from datetime import UTC, date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from sqlalchemy.orm import Session

from dashboard.interop.example import EXAMPLE_PATH, build_example_bundle
from dashboard.interop.fhir import to_json
from dashboard.interop.push import PushError, push_bundle
from dashboard.models import Encounter, Patient, Room
from roomvitals.cli import main as roomvitals
from tests.dashboard.workflow_helpers import audit_events, file_bp, login, make_app, room

ROOT = Path(__file__).resolve().parents[2]


def test_committed_example_is_what_the_code_produces():
    committed = (ROOT / EXAMPLE_PATH).read_text(encoding="utf-8")
    assert committed == to_json(build_example_bundle()) + "\n", (
        "docs/fhir/encounter-bundle.json is stale: run `roomvitals export example`"
    )


def test_example_bundle_is_valid_and_has_every_case():
    bundle = build_example_bundle()
    Bundle.model_validate_json(to_json(bundle))
    observations = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
    ]
    codes = {o["code"]["coding"][0]["code"] for o in observations}
    # every vital: BP panel, pulse, SpO2, temperature, weight, height, BMI, respiration
    assert codes == {
        "85354-9",
        "8867-4",
        "2708-6",
        "8310-5",
        "29463-7",
        "8302-2",
        "39156-5",
        "9279-1",
    }
    nan = [o for o in observations if "dataAbsentReason" in o]
    assert [o["dataAbsentReason"]["coding"][0]["code"] for o in nan] == ["not-a-number"]
    rejected = [o for o in observations if o["status"] == "entered-in-error"]
    assert len(rejected) == 1 and rejected[0]["code"]["coding"][0]["code"] == "85354-9"
    [manual] = [o for o in observations if o.get("method", {}).get("text") == "manual entry"]
    assert manual["code"]["coding"][0]["code"] == "9279-1"
    assert "device" not in manual and manual["performer"]
    [bmi] = [o for o in observations if o["code"]["coding"][0]["code"] == "39156-5"]
    assert len(bmi["derivedFrom"]) == 2
    full_urls = {e["fullUrl"] for e in bundle["entry"]}
    assert {ref["reference"] for ref in bmi["derivedFrom"]} <= full_urls
    for o in observations:
        if "device" in o:
            assert o["device"]["reference"] in full_urls  # the measuring device, in the bundle
        assert o["subject"]["reference"] == "Patient?identifier=urn:roomvitals:mrn|DEMO-1001"


class FhirServer(ThreadingHTTPServer):
    """A transaction endpoint with conditional-create semantics, for the push tests: it
    stores each resource once per identifier, as a FHIR server does with ifNoneExist."""

    def __init__(self, fail_first: int = 0, status: int = 503) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.stored: dict[str, dict] = {}
        self.requests = 0
        self.fail_first = fail_first
        self.fail_status = status
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/fhir"


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_POST(self) -> None:
        server: FhirServer = self.server  # type: ignore[assignment]
        server.requests += 1
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if server.requests <= server.fail_first:
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [
                    {"severity": "error", "code": "invalid", "diagnostics": "test server says no"}
                ],
            }
            self._send(server.fail_status, outcome)
            return
        responses = []
        for entry in body["entry"]:
            request = entry["request"]
            key = request.get("ifNoneExist") or request["url"]
            created = key not in server.stored
            server.stored[key] = entry["resource"]
            responses.append({"response": {"status": "201 Created" if created else "200 OK"}})
        self._send(
            200, {"resourceType": "Bundle", "type": "transaction-response", "entry": responses}
        )

    def _send(self, status: int, document: dict) -> None:
        data = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/fhir+json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def test_sending_a_bundle_twice_creates_nothing_new():
    server = FhirServer()
    try:
        bundle = build_example_bundle()
        first = push_bundle(server.url, bundle)
        assert len(server.stored) == len(bundle["entry"])
        assert {e["response"]["status"] for e in first["entry"]} == {"201 Created"}
        second = push_bundle(server.url, bundle)
        assert len(server.stored) == len(bundle["entry"])
        assert {e["response"]["status"] for e in second["entry"]} == {"200 OK"}
    finally:
        server.shutdown()


def test_push_retries_server_errors_and_reports_refusals():
    server = FhirServer(fail_first=2, status=503)
    try:
        push_bundle(server.url, build_example_bundle(), retries=3, backoff=0.01)
        assert server.requests == 3
    finally:
        server.shutdown()
    refusing = FhirServer(fail_first=10, status=422)
    try:
        with pytest.raises(PushError, match="HTTP 422: test server says no"):
            push_bundle(refusing.url, build_example_bundle(), retries=3, backoff=0.01)
        assert refusing.requests == 1  # a refusal is not retried
    finally:
        refusing.shutdown()


@pytest.fixture
def app(database_url):
    app = make_app(database_url)
    yield app
    app.extensions["roomvitals.engine"].dispose()


def test_fhir_endpoints_serve_accepted_vitals_audited(app, database_url, tmp_path):
    client = app.test_client()
    token = login(client)
    encounter_id = room(client, token, app)
    reading_id = file_bp(app)
    response = client.post(f"/assistant/readings/{reading_id}/accept", data={"csrf_token": token})
    assert response.status_code in (200, 302)
    response = client.get(f"/fhir/Bundle/encounter/{encounter_id}")
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    bundle = response.get_json()
    Bundle.model_validate(bundle)
    observations = [
        e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Observation"
    ]
    assert {o["code"]["coding"][0]["code"] for o in observations} == {"85354-9", "8867-4"}
    [export] = audit_events(app, "export", "encounter")
    assert export.patient_id is not None
    search = client.get("/fhir/Observation?patient=DEMO-1006").get_json()
    assert search["type"] == "searchset" and search["total"] == 2
    # No MRN is confirmed or denied: an unknown one, and one of a patient seen only at
    # another site, give the same empty result.
    elsewhere = Patient(mrn="OTHER-SITE-1", family_name="Else", given_name="Where",
                        date_of_birth=date(1990, 2, 3), sex="M", allergies=[],
                        created_at=datetime.now(UTC))
    with Session(app.extensions["roomvitals.engine"]) as db, db.begin():
        other_room = Room(site="another-site", name="exam-9")
        db.add_all([elsewhere, other_room])
        db.flush()
        now = datetime.now(UTC)
        db.add(Encounter(site="another-site", patient_id=elsewhere.id, room_id=other_room.id,
                         status="done", status_changed_at=now, identity_confirmed_at=now,
                         started_at=now, revision=1))
    for mrn in ("NO-SUCH-MRN", "OTHER-SITE-1"):
        response = client.get(f"/fhir/Observation?patient={mrn}")
        assert response.status_code == 200
        assert response.get_json() == {"resourceType": "Bundle", "type": "searchset",
                                       "total": 0, "entry": []}
    assert client.get("/fhir/Observation").status_code == 400
    anonymous = app.test_client()
    assert anonymous.get(f"/fhir/Bundle/encounter/{encounter_id}").status_code == 401
    # the command line gives the same bundle
    out = tmp_path / "bundle.json"
    assert (
        roomvitals(
            [
                "export",
                "--database",
                database_url,
                "fhir",
                "--encounter",
                str(encounter_id),
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert json.loads(out.read_text()) == bundle


def test_hl7_export_to_an_interface_engine(app, database_url, capsys):
    from tests.interop.test_hl7v2 import Listener

    client = app.test_client()
    token = login(client)
    encounter_id = room(client, token, app)
    reading_id = file_bp(app)
    client.post(f"/assistant/readings/{reading_id}/accept", data={"csrf_token": token})
    listener = Listener(["AA"])
    try:
        assert roomvitals(["export", "--database", database_url, "hl7", "--encounter",
                           str(encounter_id), "--mllp", f"127.0.0.1:{listener.port}"]) == 0
    finally:
        listener.close()
    assert "AA" in capsys.readouterr().out
    [message] = listener.received
    segments = [s.split("|") for s in message.split("\r") if s]
    assert next(s for s in segments if s[0] == "PID")[3].startswith("DEMO-1006^")
    obx3 = [s[3] for s in segments if s[0] == "OBX"]
    assert "150021^MDC_PRESS_BLD_NONINV_SYS^MDC" in obx3
    assert "149546^MDC_PULS_RATE_NON_INV^MDC" in obx3
