"""The supervisors' pages in zh-CN and English, their document links, and the message
catalogue of the supervision capability."""

from __future__ import annotations

import ast
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader

from duban.supervision.models import JointDecision, OrderProblem
from duban.web import sessions
from duban.web.messages_zh import ZH
from tests.factories.cases import dispatched_case
from tests.factories.supervision import order
from tests.factories.world import World

SOURCE = Path(__file__).resolve().parents[2] / "src" / "duban" / "supervision"


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def _sign_in(client: TestClient, app: FastAPI, world: World, username: str, lang: str) -> None:
    client.cookies.clear()
    user = world.users[username]
    now = int(world.clock.now().timestamp())
    session = sessions.WebSession.fresh(now=now, lang=lang).signed_in(
        user.id, sessions.user_fingerprint(user.password_hash), now
    )
    client.cookies.set(sessions.COOKIE_NAME, sessions.encode(session, app.state.secret_key))


@pytest.mark.parametrize(
    ("lang", "heading", "status"),
    [("zh", "督办单", "已下发"), ("en", "Supervision orders", "Issued")],
)
def test_the_supervisor_sees_the_orders_and_their_documents(
    browser: TestClient, app: FastAPI, world: World, lang: str, heading: str, status: str
) -> None:
    made = order(
        world, [dispatched_case(world, address="人民路88号"), dispatched_case(world, unit="HWC")]
    )
    _sign_in(browser, app, world, "supervisor", lang)
    page = browser.get("/supervision")
    assert page.status_code == 200
    assert heading in page.text
    assert made.number in page.text
    assert status in page.text
    view = browser.get(f"/supervision/{made.id}")
    assert view.status_code == 200
    assert "人民路88号" in view.text
    assert f"/supervision/{made.id}/document.pdf" in view.text
    assert f"/supervision/{made.id}/notices/HWC.docx" in view.text
    docx = browser.get(f"/supervision/{made.id}/document.docx")
    assert docx.status_code == 200
    assert made.number in "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    pdf = browser.get(f"/supervision/{made.id}/notices/HWC.pdf")
    assert "限期整改通知书" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    assert browser.get(f"/supervision/{made.id}/document.txt").status_code == 422


def test_a_unit_sees_its_own_problems_and_others_are_turned_away(
    browser: TestClient, app: FastAPI, world: World
) -> None:
    made = order(
        world,
        [
            dispatched_case(world, address="人民路88号"),
            dispatched_case(world, unit="HWC", address="建设路12号"),
        ],
    )
    _sign_in(browser, app, world, "handler2", "zh")
    view = browser.get(f"/supervision/{made.id}")
    assert "建设路12号" in view.text
    assert "人民路88号" not in view.text
    _sign_in(browser, app, world, "collector", "zh")
    assert browser.get("/supervision").status_code == 403


def _messages() -> set[str]:
    """The string constants and error texts of the supervision capability people read."""
    found: set[str] = set()
    errors = {"InvalidInput", "PermissionDenied", "NotFound", "Conflict", "PolicyError"}
    for path in SOURCE.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Name)
                and node.func.id in errors
                and node.args
                and isinstance(node.args[0], ast.Constant)
            ):
                found.add(str(node.args[0].value))
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.targets[0], ast.Name)
                and node.targets[0].id.isupper()
                and isinstance(node.value, ast.Constant)
                and isinstance(node.value.value, str)
                and node.value.value[:1].islower()
                and " " in node.value.value
            ):
                found.add(node.value.value)
    return found


def test_every_supervision_message_has_its_chinese() -> None:
    messages = _messages()
    assert "no such supervision order" in messages
    policy_only = {m for m in messages if m.startswith("supervision.")}
    missing = sorted(m for m in messages - policy_only if m not in ZH)
    assert not missing, missing


def _csrf(html: str) -> str:
    import re

    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_a_unit_answers_and_the_supervisor_reviews_on_the_page(
    browser: TestClient, app: FastAPI, world: World
) -> None:
    made = order(world, [dispatched_case(world)])
    problem = made.problems[0].id
    _sign_in(browser, app, world, "handler", "zh")
    page = browser.get(f"/supervision/{made.id}").text
    assert f'data-reply="{problem}"' in page
    url = f"/supervision/{made.id}/problems/{problem}"
    empty = browser.post(f"{url}/reply", data={"csrf_token": _csrf(page), "measures": " "})
    assert empty.status_code == 422
    assert "此项必填" in empty.text
    done = browser.post(
        f"{url}/reply",
        data={"csrf_token": _csrf(page), "measures": "已清理并设置警示牌", "done": "1"},
        follow_redirects=False,
    )
    assert done.status_code == 303
    _sign_in(browser, app, world, "supervisor", "en")
    page = browser.get(f"/supervision/{made.id}").text
    assert "已清理并设置警示牌" in page
    assert f'data-review="{problem}"' in page
    refused = browser.post(
        f"{url}/review", data={"csrf_token": _csrf(page), "decision": "send_back", "reason": ""}
    )
    assert refused.status_code == 422
    browser.post(f"{url}/review", data={"csrf_token": _csrf(page), "decision": "accept"})
    assert "Closed" in browser.get(f"/supervision/{made.id}").text


def _task(world: World, model: type[Any], task_id: int) -> Any:
    """The problem or decision as stored now (a session of its own)."""
    with world.session_factory() as other:
        return other.get(model, task_id)


def test_a_unit_answers_with_photos_and_a_bad_file_refuses_the_answer(
    browser: TestClient, app: FastAPI, world: World
) -> None:
    from duban.supervision.joint import DecisionInput
    from tests.factories.evidence import jpeg
    from tests.factories.supervision import joint

    made = order(world, [dispatched_case(world)])
    problem = made.problems[0].id
    meeting = joint(world, decisions=[DecisionInput(text="清理", unit="SZGC", due_work_days=3)])
    decision = meeting.decisions[0].id
    world.session.commit()
    _sign_in(browser, app, world, "handler", "zh")
    page = browser.get(f"/supervision/{made.id}").text
    assert 'enctype="multipart/form-data" data-reply' in page
    url = f"/supervision/{made.id}/problems/{problem}/reply"
    bad = browser.post(
        url,
        data={"csrf_token": _csrf(page), "measures": "已清理", "done": "1"},
        files=[("photos", ("现场.jpg", b"not a photo at all", "image/jpeg"))],
    )
    assert bad.status_code == 422
    assert "现场.jpg" in bad.text
    assert _task(world, OrderProblem, problem).answered_at is None  # nothing answered
    done = browser.post(
        url,
        data={"csrf_token": _csrf(page), "measures": "已清理", "done": "1"},
        files=[
            ("photos", ("前.jpg", jpeg((10, 20, 30)), "image/jpeg")),
            ("photos", ("后.jpg", jpeg((200, 210, 220)), "image/jpeg")),
        ],
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    photos = _task(world, OrderProblem, problem).reply_photo_ids or []
    assert len(photos) == 2
    joint_page = browser.get(f"/joint/{meeting.id}").text
    answered = browser.post(
        f"/joint/{meeting.id}/decisions/{decision}/reply",
        data={"csrf_token": _csrf(joint_page), "measures": "已联合执法", "done": "1"},
        files=[("photos", ("会后.jpg", jpeg((90, 90, 10)), "image/jpeg"))],
        follow_redirects=False,
    )
    assert answered.status_code == 303, answered.text
    assert len(_task(world, JointDecision, decision).reply_photo_ids or []) == 1
    # The supervisor sees the photos beside the answer, and opens them.
    _sign_in(browser, app, world, "supervisor", "zh")
    page = browser.get(f"/supervision/{made.id}").text
    for photo_id in photos:
        assert f'data-reply-photo="{photo_id}"' in page
        shown = browser.get(f"/photos/{photo_id}")
        assert shown.status_code == 200
        assert shown.headers["content-type"] == "image/jpeg"
