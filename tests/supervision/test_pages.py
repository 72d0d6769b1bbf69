"""The supervisors' pages in zh-CN and English, their document links, and the message
catalogue of the supervision capability."""

from __future__ import annotations

import ast
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from docx import Document
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader

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
