"""Admin pages: edit the triage question sets (``dashboard/triage.py`` holds the rules)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from sqlalchemy import select

from dashboard import audit, triage
from dashboard.auth import actor, db_session, roles_required
from dashboard.models import QuestionSet

bp = Blueprint("triage_admin", __name__, url_prefix="/admin/question-sets")


@bp.get("/")
@roles_required("admin")
def index() -> str:
    db = db_session()
    triage.ensure_defaults(db)
    db.commit()
    sets = db.scalars(select(QuestionSet).order_by(QuestionSet.label)).all()
    return render_template("admin/question_sets.html", sets=sets)


@bp.route("/<code>", methods=["GET", "POST"])
@roles_required("admin")
def edit(code: str) -> Any:
    db = db_session()
    qset = db.scalar(select(QuestionSet).where(QuestionSet.code == code))
    is_new = qset is None
    if is_new and code != "new":
        abort(404)
    errors: dict[str, str] = {}
    form = request.form
    if request.method == "POST":
        new_code = code if not is_new else form.get("code", "").strip()
        if is_new and not re.fullmatch(r"[a-z][a-z0-9_]{1,63}", new_code):
            errors["code"] = "2-64 lower-case letters, digits or _, starting with a letter."
        elif is_new and db.scalar(select(QuestionSet).where(QuestionSet.code == new_code)):
            errors["code"] = "That code exists already."
        label = form.get("label", "").strip()
        if not label:
            errors["label"] = "Give the set a name."
        try:
            questions = triage.parse_questions(form.get("questions", ""))
        except triage.QuestionSetError as exc:
            errors["questions"] = str(exc)
        if not errors:
            if is_new:
                qset = QuestionSet(code=new_code, version=0)
                db.add(qset)
            qset.label = label[:200]
            qset.keywords = [k.strip() for k in form.get("keywords", "").split(",") if k.strip()]
            qset.questions = questions
            qset.active = form.get("active") == "yes"
            qset.version = (qset.version or 0) + 1
            qset.updated_at = datetime.now(UTC)
            qset.updated_by = actor().user_id
            db.flush()
            audit.append(db, actor(), "update", "question_set", qset.code,
                         detail={"version": qset.version, "questions": len(questions)})
            db.commit()
            return redirect(url_for("triage_admin.index"))
    return render_template(
        "admin/question_set.html", qset=qset, is_new=is_new, errors=errors, form=form,
        questions_text=triage.format_questions(qset.questions) if qset else "",
    ), (422 if errors else 200)
