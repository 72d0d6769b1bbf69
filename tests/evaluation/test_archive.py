"""The archive of monthly bulletins, their typical cases, and the scheduled job.

The November of tests/evaluation/conftest.py: its typical cases are F (reopened, fixed an
hour after its deadline; D was parked a minute after its own, which stops its clock),
C (sent back once) and A (fixed at once, closed on 2 Nov).
"""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

from docx import Document
from pypdf import PdfReader
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from duban.cli import app as cli_app
from duban.evaluation.archive import NO_BULLETIN, list_bulletins, make_bulletin
from duban.evaluation.bulletin import parse_month
from duban.evaluation.models import Bulletin
from duban.evaluation.typical import typical_cases
from duban.jobs.bulletin import BulletinReport, monthly_bulletin
from duban.kernel.context import SYSTEM_ACTOR
from tests.evaluation.conftest import DISPATCH, FIX, INTAKE, November, run
from tests.fakes import FixedClock, local
from tests.http import Api, assert_error


def _list(api: Api, by: str = "leader", **params: Any) -> list[dict[str, Any]]:
    r = api.get("/reports/bulletins", by, **params)
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["bulletins"]
    return rows


def test_each_bulletin_made_is_archived_as_a_new_version(api: Api, november: November) -> None:
    first = api.get("/reports/bulletin", "leader", period="2026-11", format="docx")
    second = api.get("/reports/bulletin", "supervisor", period="2026-11", format="pdf")
    assert first.status_code == second.status_code == 200, second.text
    rows = _list(api)
    assert [(r["version"], r["source"], r["created_by"]) for r in rows] == [
        (2, "request", "supervisor"),
        (1, "request", "leader"),
    ]
    for row in rows:
        assert row["period"] == "2026-11"
        assert row["object"] == "street"
        assert row["scheme"] == "national"
        assert row["scheme_version"]  # the effective date of the version used
        assert row["formats"] == ["docx", "pdf", "xlsx"]
    one = rows[1]
    assert first.headers["x-bulletin-id"] == str(one["id"])
    kept = api.get(one["downloads"]["docx"].removeprefix("/api/v1"), "leader")
    assert kept.status_code == 200
    assert kept.content == first.content  # byte for byte as it was made
    assert 'filename="bulletin-2026-11-street-v1.docx"' in kept.headers["content-disposition"]
    xlsx = api.get(f"/reports/bulletins/{one['id']}/xlsx", "admin")
    assert xlsx.headers["content-type"].startswith("application/vnd.openxmlformats")
    # Filters, and what is refused.
    assert _list(api, period="2026-10") == []
    assert len(_list(api, object="street", scheme="national")) == 2
    missing = assert_error(api.get("/reports/bulletins/999999/pdf", "leader"), 404)
    assert missing["message"] == NO_BULLETIN.format(id=999999)
    assert api.get(f"/reports/bulletins/{one['id']}/odt", "leader").status_code == 422
    assert api.get("/reports/bulletins", "handler").status_code == 403
    assert api.get(f"/reports/bulletins/{one['id']}/pdf", "collector").status_code == 403


def test_typical_cases_with_photos_in_docx_and_pdf(api: Api, november: November) -> None:
    codes = {name: case.code for name, case in november.cases.items()}
    r = api.get("/reports/bulletin", "leader", period="2026-11", format="docx")
    doc = Document(io.BytesIO(r.content))
    text = "\n".join(p.text for p in doc.paragraphs)
    assert "典型案例" in text
    assert f"最长超期：{codes['F']}" in text
    assert "超期1.0小时" in text
    assert f"返工最多：{codes['C']}" in text
    assert "返工1次" in text
    assert f"处置最佳：{codes['A']}" in text
    assert "处置后" in text  # the after-photos' caption
    # The chart and one after-photo of each of F, C and A.
    assert len(doc.inline_shapes) == 4
    bulletin_id = int(r.headers["x-bulletin-id"])
    pdf = api.get(f"/reports/bulletins/{bulletin_id}/pdf", "leader")
    reader = PdfReader(io.BytesIO(pdf.content))
    pdf_text = "".join(page.extract_text() for page in reader.pages)
    for expected in ("典型案例", "最长超期", codes["F"], "返工最多", codes["C"], codes["A"]):
        assert expected in pdf_text, expected
    assert len([i for page in reader.pages for i in page.images]) >= 2  # chart + photo


def test_the_job_makes_last_months_bulletins_once(
    november: November, session: Session, clock: FixedClock
) -> None:
    clock.set(local(2026, 12, 1, 0, 30))  # just after midnight in Shanghai
    store = november.world.store
    first = monthly_bulletin(session, clock=clock, store=store)
    assert first.period == "2026-11"
    assert [obj for obj, _ in first.made] == ["district", "street"]
    again = monthly_bulletin(session, clock=clock, store=store)
    assert again.made == []
    assert again.existing == ["district", "street"]
    assert "already archived" in str(again)
    # A bulletin asked for by hand is a new version; the job still makes nothing again.
    leader = november.world.actor("leader")
    made_id, _ = make_bulletin(session, actor=leader, clock=clock, period="2026-11")
    assert monthly_bulletin(session, clock=clock, store=store).made == []
    rows = list_bulletins(session, actor=SYSTEM_ACTOR, obj="street")
    assert [(r.version, r.source, r.created_by) for r in rows] == [
        (2, "request", "leader"),
        (1, "job", "job"),
    ]
    assert rows[0].id == made_id


def test_two_runs_of_the_job_at_once_make_each_bulletin_once(
    november: November, session_factory: sessionmaker[Session], clock: FixedClock
) -> None:
    clock.set(local(2026, 12, 2, 8, 0))
    barrier = threading.Barrier(2)
    reports: list[BulletinReport] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            with session_factory() as own:
                barrier.wait(timeout=30)
                reports.append(monthly_bulletin(own, clock=clock, objects=("street",)))
        except BaseException as err:  # reported below
            errors.append(err)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors, errors
    assert sorted(len(r.made) for r in reports) == [0, 1]
    with session_factory() as other:
        count = other.scalar(
            select(func.count()).select_from(Bulletin).where(Bulletin.source == "job")
        )
    assert count == 1


def test_duban_jobs_run_bulletin(november: November, db_url: str, tmp_path: Path) -> None:
    # The command runs on the real clock: it makes the month before today's.
    runner = CliRunner()
    env = {"DUBAN_DATABASE_URL": db_url, "DUBAN_PHOTO_DIR": str(tmp_path / "photos")}
    result = runner.invoke(cli_app, ["jobs", "run", "bulletin"], env=env)
    assert result.exit_code == 0, result.output
    assert "made district #" in result.output
    again = runner.invoke(cli_app, ["jobs", "run", "bulletin"], env=env)
    assert again.exit_code == 0, again.output
    assert "already archived: district, street" in again.output


def test_a_month_without_cases_has_no_typical_cases(november: November) -> None:
    session = november.world.session
    month, *_ = parse_month(session, "2026-09")
    assert typical_cases(session, start=month.start, end=month.end, store=None) == []
    november_, *_ = parse_month(session, "2026-11")
    found = typical_cases(session, start=november_.start, end=november_.end, store=None)
    assert [(c.kind, c.why) for c in found] == [
        ("最长超期", "超期1.0小时"),
        ("返工最多", "返工1次"),
        ("处置最佳", "派遣后不到0.1小时处置完毕，一次通过核查"),
    ]
    assert all(c.before is None and c.after is None for c in found)  # no store, no pictures


def test_typical_cases_are_of_the_bulletins_objects(api: Api, november: November) -> None:
    """Each bulletin's typical cases are cases of its kind of object, naming the object: H,
    reworked twice but in no street, is the units' and the collectors' most reworked case,
    not the streets' (C, 西街街道)."""
    world = november.world
    world.clock.set(local(2026, 11, 25, 9, 0))
    fail = ("check", "collector", {"passed": False, "reason": "未清理干净"})
    h = run(world, world.report(), [*INTAKE, *DISPATCH, *FIX[:2], fail, *FIX[:2], fail])
    h = run(world, h, FIX)
    assert h.rework_count == 2
    assert h.street_code is None
    codes = {name: case.code for name, case in november.cases.items()}

    def headings(obj: str) -> str:
        r = api.get("/reports/bulletin", "leader", period="2026-11", format="docx", object=obj)
        assert r.status_code == 200, r.text
        return "\n".join(p.text for p in Document(io.BytesIO(r.content)).paragraphs)

    streets = headings("street")
    assert f"返工最多：{codes['C']}（" in streets
    assert "——西街街道" in streets
    assert "——东街街道" in streets
    assert h.code not in streets
    assert f"最长超期：{codes['F']}" in headings("district")
    assert "——中心区" in headings("district")
    units = headings("unit")
    assert f"返工最多：{h.code}" in units
    assert f"——{world.unit.name}" in units
    collectors = headings("collector")
    assert f"返工最多：{h.code}" in collectors
    assert f"——{world.users['collector'].display_name}" in collectors
