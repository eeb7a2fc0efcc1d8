"""decisioning: decision records, contact counters, do-not-disturb list

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 (written from nextbest.opstore.models.decisioning, checked by the
schema comparison test on SQLite and PostgreSQL)
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "decision_record",
        sa.Column("decision_id", sa.String(length=32), nullable=False),
        sa.Column("customer_key", sa.String(length=64), nullable=False),
        sa.Column("offer_id", sa.String(length=64), nullable=True),
        sa.Column("product_id", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("campaign_id", sa.String(length=64), nullable=True),
        sa.Column("priority", sa.Float(), nullable=True),
        sa.Column("price", sa.Float(), nullable=True),
        sa.Column("decided_at", _TS, nullable=False),
        sa.Column("explanation", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("policy_version", sa.String(length=64), nullable=False),
        sa.Column("catalogue_version", sa.String(length=64), nullable=False),
        sa.Column("snapshot_version", sa.String(length=128), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("outcome_at", _TS, nullable=True),
        sa.CheckConstraint(
            "outcome IN ('accepted', 'rejected')", name=op.f("ck_decision_record_outcome")
        ),
        sa.PrimaryKeyConstraint("decision_id", name=op.f("pk_decision_record")),
    )
    op.create_index(
        "ix_decision_record_customer_time", "decision_record", ["customer_key", "decided_at"]
    )
    op.create_index(
        "ix_decision_record_customer_outcome",
        "decision_record",
        ["customer_key", "outcome", "outcome_at"],
    )
    op.create_table(
        "contact_counter",
        sa.Column("customer_key", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("bucket_start", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.CheckConstraint("count >= 0", name=op.f("ck_contact_counter_count")),
        sa.PrimaryKeyConstraint(
            "customer_key", "channel", "period", "bucket_start", name=op.f("pk_contact_counter")
        ),
    )
    op.create_table(
        "do_not_disturb",
        sa.Column("customer_key", sa.String(length=64), nullable=False),
        sa.Column("added_at", _TS, nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("added_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("customer_key", name=op.f("pk_do_not_disturb")),
    )


def downgrade() -> None:
    op.drop_table("do_not_disturb")
    op.drop_table("contact_counter")
    op.drop_index("ix_decision_record_customer_outcome", table_name="decision_record")
    op.drop_index("ix_decision_record_customer_time", table_name="decision_record")
    op.drop_table("decision_record")
