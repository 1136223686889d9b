"""``roomvitals export``: an encounter as FHIR (file or server) or HL7 v2 (MLLP)."""

from __future__ import annotations

import argparse
import sys
import uuid
from pathlib import Path

from sqlalchemy.orm import Session

from dashboard.db import database_url, make_engine


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (env DATABASE_URL)")
    sub = parser.add_subparsers(dest="export_command", required=True, metavar="FORMAT")
    fhir = sub.add_parser(
        "fhir",
        help="an encounter's transaction Bundle (FHIR R4)",
        description="Write an encounter's accepted vitals as a FHIR R4 "
        "transaction Bundle, or send it to a FHIR server.",
    )
    fhir.add_argument("--encounter", type=int, required=True, help="encounter id")
    fhir.add_argument("--out", default="-", help="file to write (default: standard output)")
    fhir.add_argument(
        "--push",
        metavar="URL",
        default=None,
        help="FHIR server base URL to POST the transaction to (with retries)",
    )
    fhir.add_argument("--token-file", default=None, help="file with a bearer token for --push")
    hl7 = sub.add_parser(
        "hl7",
        help="an encounter as HL7 v2 ORU^R01 over MLLP",
        description="Send an encounter's accepted vitals as one ORU^R01 "
        "(IHE PCD-01 style) over MLLP and wait for the ACK.",
    )
    hl7.add_argument("--encounter", type=int, required=True, help="encounter id")
    hl7.add_argument(
        "--mllp",
        metavar="HOST:PORT",
        default=None,
        help="interface engine listener; without it the message is printed",
    )
    sub.add_parser(
        "example",
        help="rewrite docs/fhir/encounter-bundle.json",
        description="Build the demo encounter's Bundle and write it to "
        "docs/fhir/encounter-bundle.json (run from the repository root).",
    )


def run(args: argparse.Namespace) -> int:
    if args.export_command == "example":
        from dashboard.interop.example import write_example

        print(f"wrote {write_example()}")
        return 0
    engine = make_engine(database_url(args.database))
    try:
        with Session(engine) as db:
            from dashboard.interop.export import load_encounter

            export = load_encounter(db, args.encounter)
            if export is None:
                print(f"roomvitals export: no encounter {args.encounter}", file=sys.stderr)
                return 2
            if args.export_command == "fhir":
                return _fhir(args, export)
            return _hl7(args, export)
    finally:
        engine.dispose()


def _fhir(args: argparse.Namespace, export) -> int:
    from dashboard.interop.fhir import to_json
    from dashboard.interop.push import PushError, push_bundle

    bundle = export.bundle()
    if args.push:
        token = Path(args.token_file).read_text().strip() if args.token_file else None
        try:
            push_bundle(args.push, bundle, token=token)
        except PushError as exc:
            print(f"roomvitals export: {exc}", file=sys.stderr)
            return 1
        print(f"sent {len(bundle['entry'])} resources to {args.push}")
        return 0
    text = to_json(bundle) + "\n"
    if args.out == "-":
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


def _hl7(args: argparse.Namespace, export) -> int:
    from dashboard.interop.fhir import bundle_reference
    from dashboard.interop.hl7v2 import Hl7Error, Hl7Patient, MllpSender, build_oru

    patient = export.patient
    device_ids = {bundle_reference(d.id): f"{d.serial}^{d.model}" for d in export.devices}
    message = build_oru(
        Hl7Patient(
            patient.mrn, patient.family_name, patient.given_name, patient.date_of_birth, patient.sex
        ),
        list(export.records),
        control_id=uuid.uuid4().hex[:20],
        room=export.encounter.room.name,
        device_ids=device_ids,
    )
    if not args.mllp:
        sys.stdout.write(message.replace("\r", "\n"))
        return 0
    host, _, port = args.mllp.rpartition(":")
    try:
        code = MllpSender(host or "127.0.0.1", int(port)).send(message)
    except (Hl7Error, ValueError) as exc:
        print(f"roomvitals export: {exc}", file=sys.stderr)
        return 1
    print(f"sent ORU^R01 for encounter {args.encounter}: {code}")
    return 0
