"""The pages of joint sessions and revisits in zh-CN and English: a supervisor records a
session and a decision through the forms; the minutes download; the revisit list."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from duban.cases.workflow import CaseStatus
from duban.supervision.revisits import create_due_revisits
from tests.factories.cases import dispatched_case
from tests.factories.world import World
from tests.fakes import local
from tests.supervision.test_pages import _sign_in


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


@pytest.mark.parametrize(
    ("lang", "heading", "saved"), [("zh", "会商", "已保存"), ("en", "Joint sessions", "Saved.")]
)
def test_a_supervisor_records_a_session_and_a_decision(
    browser: TestClient, app: FastAPI, world: World, lang: str, heading: str, saved: str
) -> None:
    case = dispatched_case(world)
    _sign_in(browser, app, world, "supervisor", lang)
    page = browser.get("/joint")
    assert page.status_code == 200
    assert heading in page.text
    made = browser.post(
        "/joint",
        data={
            "csrf_token": _csrf(page.text),
            "title": "占道经营专题会商",
            "held_at": "2026-11-23T10:00",
            "units": ["SZGC", "HWC"],
            "case_ids": str(case.id),
            "ledger_item_ids": "",
            "minutes": "会议议定如下。",
        },
    )
    assert made.status_code == 200, made.text
    assert saved in made.text
    assert "占道经营专题会商" in made.text
    url = str(made.url)
    session_id = url.rsplit("/", 1)[1]
    added = browser.post(
        f"/joint/{session_id}/decisions",
        data={
            "csrf_token": _csrf(made.text),
            "text": "市政工程处限期清理",
            "unit": "SZGC",
            "due_work_days": "3",
            "due_on": "",
            "case_id": "",
        },
    )
    assert added.status_code == 200
    assert "市政工程处限期清理" in added.text
    refused = browser.post(
        f"/joint/{session_id}/decisions",
        data={"csrf_token": _csrf(made.text), "text": "x", "unit": "SZGC", "due_work_days": ""},
    )
    assert refused.status_code == 422
    docx = browser.get(f"/joint/{session_id}/minutes.docx")
    assert docx.status_code == 200
    assert docx.content[:2] == b"PK"
    case_page = browser.get(f"/cases/{case.id}")
    assert "市政工程处限期清理" in case_page.text


@pytest.mark.parametrize(("lang", "state"), [("zh", "待回头看"), ("en", "Due")])
def test_the_revisit_list(
    browser: TestClient, app: FastAPI, world: World, lang: str, state: str
) -> None:
    world.case_in(CaseStatus.CLOSED)
    world.clock.set(local(2026, 12, 1, 9, 0))
    create_due_revisits(world.session, clock=world.clock)
    _sign_in(browser, app, world, "leader", lang)
    page = browser.get("/revisits")
    assert page.status_code == 200
    assert state in page.text
    assert "data-record" not in page.text  # a leader reads; collectors and supervisors record
    _sign_in(browser, app, world, "dispatcher", lang)
    assert browser.get("/revisits").status_code == 403
