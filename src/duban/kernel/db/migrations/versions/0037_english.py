"""english: routing reasons stored as a template and codes (cases.routing_reason_data),
named in the reader's language when read; existing reasons converted where they can be
read, the English text kept as the fallback; units without an English name get the draft
made from their Chinese one

Revision ID: 0037_english
Revises: 0036_search
Create Date: 2026-12-03 18:30:00
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0037_english"
down_revision: str | None = "0036_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The templates routing wrote at this revision (duban.places.routing): the stored form
# is duban.places.reasons, version 1. Written out here so the migration keeps its meaning
# when the code changes.
RULE_TEXT = "rule #{rule_id}: {what} · {where} → {unit}"
TERRITORIAL = (
    "no routing rule matches {category} here; the territorial unit of {place} takes it: {unit}"
)
NOBODY = (
    "no routing rule matches {category} here and {place} has no territorial unit; "
    "the dispatcher chooses the unit"
)
NO_STREET = "this place (it is in no known street)"
MOST_SPECIFIC = re.compile(r"; the most specific of (\d+) matching rules$")
TERRITORIAL_TEXT = re.compile(
    r"^no routing rule matches .+ here; the territorial unit of (.+) takes it: .+$", re.S
)
NOBODY_TEXT = re.compile(
    r"^no routing rule matches .+ here and (.+) has no territorial unit; "
    r"the dispatcher chooses the unit$",
    re.S,
)
BATCH = 2000

cases = sa.table(
    "cases",
    sa.column("id", sa.Integer),
    sa.column("category_code", sa.String),
    sa.column("grid_code", sa.String),
    sa.column("community_code", sa.String),
    sa.column("street_code", sa.String),
    sa.column("district_code", sa.String),
    sa.column("routing_unit_id", sa.Integer),
    sa.column("routing_rule_id", sa.Integer),
    sa.column("routing_reason", sa.Text),
    sa.column("routing_reason_data", sa.JSON),
)


def _ref(kind: str, code: str) -> dict[str, str]:
    return {"ref": kind, "code": code}


def _rule(rule: Any, unit_codes: dict[int, str]) -> dict[str, Any]:
    """The reason of a rule (routing rules are never edited, only switched off)."""
    what: dict[str, Any] = {"t": "any category", "p": {}}
    if rule.condition_code:
        what = _ref("condition", rule.condition_code)
    elif rule.category_code:
        what = _ref("category", rule.category_code)
    where: dict[str, Any] = {"t": "anywhere", "p": {}}
    if rule.place_level and rule.place_code:
        where = _ref("zone" if rule.place_level == "zone" else "region", rule.place_code)
    unit = _ref("unit", unit_codes.get(rule.unit_id, "?"))
    text: dict[str, Any] = {
        "t": RULE_TEXT,
        "p": {"rule_id": rule.id, "what": what, "where": where, "unit": unit},
    }
    if rule.helper_units:
        helpers = {"ref": "unit", "codes": list(rule.helper_units)}
        text = {"t": "{rule}, helped by {helpers}", "p": {"rule": text, "helpers": helpers}}
    if rule.priority:
        text = {"t": "{rule} (priority {priority})", "p": {"rule": text, "priority": rule.priority}}
    return text


def _place(text: str, row: Any, names: dict[str, set[str]]) -> dict[str, Any] | None:
    """The region the text names, among the case's own (its street first)."""
    if text == NO_STREET:
        return {"t": NO_STREET, "p": {}}
    for code in (row.street_code, row.district_code, row.community_code, row.grid_code):
        if code and (text == code or text in names.get(code, ())):
            return _ref("region", code)
    return None


def convert(
    row: Any,
    rules: dict[int, Any],
    unit_codes: dict[int, str],
    names: dict[str, set[str]],
) -> dict[str, Any] | None:
    """The stored form of one case's reason, or None where its text cannot be read."""
    text = row.routing_reason or ""
    category = _ref("category", row.category_code)
    if row.routing_rule_id is not None:
        rule = rules.get(row.routing_rule_id)
        if rule is None or not text.startswith(f"rule #{rule.id}:"):
            return None
        reason = _rule(rule, unit_codes)
        count = MOST_SPECIFIC.search(text)
        if count:
            reason = {
                "t": "{rule}; the most specific of {count} matching rules",
                "p": {"rule": reason, "count": int(count.group(1))},
            }
        return reason
    found = TERRITORIAL_TEXT.match(text)
    if found and row.routing_unit_id in unit_codes:
        place = _place(found.group(1), row, names)
        if place is None or place.get("t"):
            return None
        unit = _ref("unit", unit_codes[row.routing_unit_id])
        return {"t": TERRITORIAL, "p": {"category": category, "place": place, "unit": unit}}
    found = NOBODY_TEXT.match(text)
    if found:
        place = _place(found.group(1), row, names)
        if place is None:
            return None
        return {"t": NOBODY, "p": {"category": category, "place": place}}
    return None


def upgrade() -> None:
    with op.batch_alter_table("cases") as batch:
        batch.add_column(
            sa.Column(
                "routing_reason_data",
                sa.JSON(),
                nullable=True,
                comment="why: template and codes, named in the reader's language when read",
            )
        )
    conn = op.get_bind()
    # Units without an English name: the draft create_unit makes (the admin corrects it).
    from duban.accounts.unitnames import english_unit_name  # a pure function of the name

    unnamed = conn.execute(sa.text("SELECT id, name FROM units WHERE name_en IS NULL")).all()
    if unnamed:
        conn.execute(
            sa.text("UPDATE units SET name_en = :name_en WHERE id = :id"),
            [{"id": i, "name_en": english_unit_name(name)[:200]} for i, name in unnamed],
        )
    unit_codes: dict[int, str] = {
        i: c for i, c in conn.execute(sa.text("SELECT id, code FROM units"))
    }
    rules = {
        r.id: r
        for r in conn.execute(
            sa.select(
                sa.column("id"),
                sa.column("category_code"),
                sa.column("condition_code"),
                sa.column("place_level"),
                sa.column("place_code"),
                sa.column("unit_id"),
                sa.column("helper_units", sa.JSON),
                sa.column("priority"),
            ).select_from(sa.table("routing_rules"))
        )
    }
    names: dict[str, set[str]] = {}
    for code, name, name_en in conn.execute(
        sa.text("SELECT code, name, name_en FROM regions WHERE level <> 'grid'")
    ):
        names.setdefault(code, set()).update(n for n in (name, name_en) if n)
    update = (
        sa.update(cases)
        .where(cases.c.id == sa.bindparam("case_id"))
        .values(routing_reason_data=sa.bindparam("data", type_=sa.JSON))
    )
    last = 0
    while True:
        rows = conn.execute(
            sa.select(cases)
            .where(cases.c.id > last, cases.c.routing_reason.is_not(None))
            .order_by(cases.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        done = [
            {"case_id": row.id, "data": data}
            for row in rows
            if (data := convert(row, rules, unit_codes, names)) is not None
        ]
        if done:
            conn.execute(update, done)


def downgrade() -> None:
    # The units' drafted English names stay (units.name_en predates this revision).
    # The English text stays in routing_reason (routing keeps writing it): nothing is lost.
    # A plain ALTER (SQLite 3.35+): a batch copy of cases would trip the foreign keys.
    op.execute("ALTER TABLE cases DROP COLUMN routing_reason_data")
