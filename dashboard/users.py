"""``roomvitals user``: accounts for admins at the command line."""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from dashboard import audit
from dashboard.auth import (
    ROLES,
    PasswordPolicyError,
    check_password_policy,
    create_user,
    generate_password,
    hash_password,
)
from dashboard.db import database_url, make_engine
from dashboard.models import User

CLI_ACTOR = audit.Actor(None, "cli", "admin", "local")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--database", default=None, help="SQLAlchemy URL (env DATABASE_URL)")
    sub = parser.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = sub.add_parser(
        "add",
        help="create an account",
        description="Create an account; without --password a random one is made and printed once.",
    )
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--name", default="", help="display name")
    add.add_argument("--password", default=None, help="(default: generate one and print it)")
    disable = sub.add_parser("disable", help="disable an account (it can no longer log in)")
    disable.add_argument("username")
    reset = sub.add_parser("reset-password", help="set a new password (printed once)")
    reset.add_argument("username")
    reset.add_argument("--prompt", action="store_true", help="type the new password instead")
    sub.add_parser("list", help="list accounts")


def run(args: argparse.Namespace) -> int:
    engine = make_engine(database_url(args.database))
    try:
        with Session(engine) as db, db.begin():
            return _run(db, args)
    except (ValueError, PasswordPolicyError) as exc:
        print(f"roomvitals user: {exc}", file=sys.stderr)
        return 2
    finally:
        engine.dispose()


def _run(db: Session, args: argparse.Namespace) -> int:
    if args.user_command == "list":
        for user in db.scalars(select(User).order_by(User.username)):
            state = "active" if user.active else "disabled"
            print(f"{user.username}\t{user.role}\t{state}\t{user.display_name}")
        return 0
    if args.user_command == "add":
        password = args.password or generate_password()
        user = create_user(db, args.username, args.role, password, args.name)
        audit.append(db, CLI_ACTOR, "create", "user", user.id, detail={"role": user.role})
        print(f"login: {user.username} / {password}")
        return 0
    user = db.scalar(select(User).where(User.username == args.username))
    if user is None:
        raise ValueError(f"no user {args.username!r}")
    if args.user_command == "disable":
        user.active = False
        audit.append(db, CLI_ACTOR, "disable", "user", user.id)
        print(f"disabled {user.username}")
        return 0
    password = getpass.getpass("new password: ") if args.prompt else generate_password()
    check_password_policy(password, user.username)
    user.password_hash = hash_password(password)
    user.password_changed_at = datetime.now(UTC)
    user.failed_logins = 0
    user.locked_until = None
    audit.append(db, CLI_ACTOR, "reset_password", "user", user.id)
    print(f"login: {user.username} / {password}" if not args.prompt else "password changed")
    return 0
