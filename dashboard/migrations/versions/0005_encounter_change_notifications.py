"""PostgreSQL: NOTIFY roomvitals_encounters on every committed update of encounters

Live views learn of a change from ``encounters.revision`` (docs/data-model.md); this trigger
lets each web process's SSE watcher (dashboard/events.py) read when something changed
instead of polling. A statement-level trigger with a constant payload: PostgreSQL delivers
notifications at commit and folds identical ones of a transaction into one, so a batch of
readings for many encounters costs one notification. SQLite has no notifications: nothing.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 20:45:00
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Keep in step with dashboard.events.NOTIFY_CHANNEL (a migration must not import app code
# that may change after it).
CHANNEL = "roomvitals_encounters"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        f"""
        CREATE FUNCTION roomvitals_notify_encounters() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('{CHANNEL}', '');
            RETURN NULL;
        END
        $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER encounters_notify_change
        AFTER UPDATE ON encounters
        FOR EACH STATEMENT EXECUTE FUNCTION roomvitals_notify_encounters()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS encounters_notify_change ON encounters")
    op.execute("DROP FUNCTION IF EXISTS roomvitals_notify_encounters()")
