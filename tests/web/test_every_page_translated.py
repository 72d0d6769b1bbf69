"""Every page, for every role, in both languages: no English left in the Chinese pages and
no Chinese of the interface left in the English ones (issue 17, item 2).

The pages come from the app's own routes (every GET page route; the API, Open311, the
static files and the downloads are not pages), their path parameters from a seeded world:
cases in several states, a citizen's report, an order, a ledger, a joint session, a
campaign and a revisit."""

from __future__ import annotations

import html as htmllib
import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select

from duban.accounts.models import Unit
from duban.app import PAGES
from duban.cases.actions import NewCase
from duban.cases.public import report_as_citizen
from duban.cases.workflow import (
    ACTION_LABELS,
    RATING_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    CaseStatus,
    Source,
)
from duban.jobs.sweep import sweep_overdue
from duban.kernel.db.base import Base
from duban.ledgers.models import LedgerNode
from duban.ledgers.rules import NodeKind
from duban.publicview.models import PublicSubscription
from duban.publicview.rules import parse_area
from duban.publicview.subscriptions import confirm_token, subscribe, unsubscribe_token
from duban.web import sessions
from duban.web.messages_zh import ZH
from duban.web.routes import router as web_router
from tests.factories.campaigns import DISTRICT, campaign, make_regions
from tests.factories.cases import dispatched_case
from tests.factories.ledgers import imported
from tests.factories.places import LAT, LON
from tests.factories.supervision import joint, order
from tests.factories.world import World
from tests.http import SECRET

#: Words that are the same in both languages: the product, formats and standards.
ALLOWED_WORDS = frozenset(
    {
        "Duban",
        "API",
        "Open311",
        "XLSX",
        "DOCX",
        "PDF",
        "JPEG",
        "PNG",
        "WebP",
        "GPS",
        "CSV",
        "JSON",
        "GeoJSON",
        "OpenStreetMap",
        "Leaflet",
        "HTTP",
        "HTTPS",
        "URL",
        "SLA",
        "ICP",
        "EXIF",  # the photo's shooting data: its name in Chinese too (无拍摄信息（EXIF）)
        "GeoPackage",  # boundary file formats
        "Shapefile",
        "adcode",  # the code field of the national boundary files
        "Atom",  # the feed format (Atom 订阅源)
    }
)
#: In the English pages: the brand (督办 next to Duban in the top bar). The seeded records
#: (user data, in Chinese) are allowed too: whatever the database holds.
ALLOWED_CHINESE = frozenset({"督办"})
#: The English switch in the Chinese pages (and 中文 in the English ones) name themselves.
LANGUAGE_NAMES = ("English", "中文")

SKIP_PREFIXES = ("/api", "/open311", "/static", "/lang/", "/photos/", "/favicon")
NOT_PAGES = re.compile(r"\.(json|geojson|xlsx|docx|pdf|ico)$|\.\{fmt\}$|/\{fmt\}$|/report/\w+$")
CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
WORD = re.compile(r"(?<![\w./@:-])[A-Za-z][A-Za-z']{2,}(?![\w@])")


@pytest.fixture
def browser(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app, base_url="http://testserver") as c:
        yield c


def _sign_in(client: TestClient, app: FastAPI, world: World, username: str, lang: str) -> None:
    client.cookies.clear()
    now = int(world.clock.now().timestamp())
    session = sessions.WebSession.fresh(now=now, lang=lang)
    if username != "anonymous":
        user = world.users[username]
        session = session.signed_in(user.id, sessions.user_fingerprint(user.password_hash), now)
    client.cookies.set(sessions.COOKIE_NAME, sessions.encode(session, app.state.secret_key))


def visible_text(page: str) -> str:
    """What a reader sees: no scripts, styles, tags or templates; entities decoded; the
    words people type into a control (placeholders, titles, aria-labels, button values)
    are read too."""
    page = re.sub(r"(?is)<(script|style|template|svg)\b.*?</\1\s*>", " ", page)
    page = re.sub(r"(?s)<!--.*?-->", " ", page)
    attrs = [
        a
        for a in re.findall(r'\s(?:placeholder|title|aria-label|alt)="([^"]*)"', page)
        if not re.fullmatch(r"[a-z_]+", a)  # an example of a field name to type
    ]
    text = re.sub(r"(?s)<[^>]+>", " ", page)
    return htmllib.unescape(" ".join([text, *attrs]))


def _seed(world: World) -> dict[str, list[str]]:
    """Values for the path parameters of the pages."""
    make_regions(world.session)
    cases = [
        world.case_in(status)
        for status in (
            CaseStatus.REPORTED,
            CaseStatus.DISPATCHED,
            CaseStatus.HANDLING,
            CaseStatus.CLOSED,
        )
    ]
    receipt = report_as_citizen(
        world.session,
        clock=world.clock,
        data=NewCase(
            source=Source.CITIZEN,
            category_code="E0102",
            lat=LAT,
            lon=LON,
            description="门口垃圾",
            reporter_name="张三丰",
            reporter_phone="13812345678",
        ),
    )
    made = order(world, [dispatched_case(world), dispatched_case(world, unit="HWC")])
    ledger = imported(world.session, actor=world.actor("supervisor"), clock=world.clock).ledger
    node = world.session.scalars(
        select(LedgerNode.id)
        .where(LedgerNode.ledger_id == ledger.id, LedgerNode.kind == NodeKind.ITEM.value)
        .limit(1)
    ).one()
    area = parse_area(f"point:{LAT},{LON},500")
    subscribe(
        world.session,
        clock=world.clock,
        email="reader@example.cn",
        area=area,
        lang="zh",
        secret=SECRET,
        base_url="http://testserver",
    )
    subscription = world.session.scalars(select(PublicSubscription)).one()
    meeting = joint(world, [cases[1]])
    drive = campaign(world)
    world.session.commit()
    overdue = world.case_in(CaseStatus.DISPATCHED)
    world.clock.advance(days=10)
    assert overdue.code in sweep_overdue(world.session, clock=world.clock).supervised
    return {
        "case_id": [str(c.id) for c in (*cases, receipt.case)],
        "code": [receipt.tracking_code or ""],
        "case_code": [receipt.case.code],
        "order_id": [str(made.id)],
        "ledger_id": [str(ledger.id)],
        "node_id": [str(node)],
        "session_id": [str(meeting.id)],
        "campaign_id": [str(drive.id)],
        # The public view's links: a confirmation (the unsubscribe route gets it too, and
        # answers its "not valid" page), and an unsubscribe link.
        "token": [confirm_token(SECRET, subscription), unsubscribe_token(SECRET, subscription)],
    }


def _data_text(world: World) -> list[str]:
    """Every text the database holds: the user data (names, addresses, the ledger...);
    not the system's own notes stored as they are (a catalogue text)."""
    system = frozenset(ZH.values())
    out: list[str] = []
    for table in Base.metadata.sorted_tables:
        for row in world.session.execute(select(table)):
            out.extend(v for v in row if isinstance(v, str) and CJK.search(v) and v not in system)
    return out


def page_paths(values: dict[str, list[str]]) -> list[str]:
    """Every GET page of the app with its parameters filled in."""
    out: list[str] = []
    for router in (web_router, *PAGES):
        for route in router.routes:
            if not isinstance(route, APIRoute) or "GET" not in route.methods:
                continue
            path = route.path
            if path.startswith(SKIP_PREFIXES) or NOT_PAGES.search(path):
                continue
            names = re.findall(r"\{(\w+)\}", path)
            if any(n not in values for n in names):
                continue  # a one-time link (resume token): not a page one visits
            if not names:
                out.append(path)
                continue
            first = names[0]
            for value in values[first]:
                filled = path.replace(f"{{{first}}}", value)
                for n in names[1:]:
                    filled = filled.replace(f"{{{n}}}", values[n][0])
                out.append(filled)
    return out


def untranslated_english(text: str, allowed: frozenset[str]) -> set[str]:
    text = re.sub(r"https?://\S+|\S+@\S+", " ", text)
    return {w for w in WORD.findall(text) if w.strip("'") not in allowed}


def _interface_chinese() -> list[str]:
    """The Chinese of the interface (catalogue values), longest first, without the
    placeholders: what must not show in an English page."""
    labels = [
        zh
        for mapping in (STATUS_LABELS, ACTION_LABELS, SOURCE_LABELS, RATING_LABELS)
        for zh, *_ in mapping.values()
    ]
    runs = {
        run
        for value in [*ZH.values(), *labels]
        for run in CJK.findall(re.sub(r"\{\w+\}", " ", value))
    }
    return sorted((r for r in runs if len(r) >= 2), key=len, reverse=True)


def test_every_page_is_in_the_language_of_the_reader(
    browser: TestClient, app: FastAPI, world: World
) -> None:
    values = _seed(world)
    paths = page_paths(values)
    # The public view of an area (a region, a place searched by name, a point): with the
    # subscription form.
    paths += [f"/public?region={DISTRICT}", "/public?q=东大街", f"/public?lat={LAT}&lon={LON}"]
    assert len(paths) >= 30
    usernames = frozenset(world.users)
    units = frozenset(u.code for u in world.session.scalars(select(Unit)))
    allowed = ALLOWED_WORDS | usernames | units | {"English"}
    data = _data_text(world)
    roles = ["anonymous", *world.users]
    problems: dict[str, set[str]] = {}
    seen = 0
    for role in roles:
        if role in ("citizen2", "collector2"):
            continue
        for lang in ("zh", "en"):
            _sign_in(browser, app, world, role, lang)
            for path in paths:
                response = browser.get(path)
                if "text/html" not in response.headers.get("content-type", ""):
                    continue
                seen += 1
                assert response.status_code < 500, (role, path, response.text[:300])
                text = visible_text(response.text)
                if lang == "zh":
                    found = untranslated_english(text, allowed)
                    if found:
                        problems.setdefault(f"zh {path} ({role})", set()).update(found)
                else:
                    text = text.replace("中文", " ")
                    found = {
                        run
                        for run in CJK.findall(text)
                        if run not in ALLOWED_CHINESE
                        and run in _INTERFACE_RUNS
                        and not any(run in d for d in data)
                    }
                    if found:
                        problems.setdefault(f"en {path} ({role})", set()).update(found)
    assert seen > 300
    words: dict[str, int] = {}
    for found in problems.values():
        for w in found:
            words[w] = words.get(w, 0) + 1
    assert not problems, (
        f"{len(problems)} pages with untranslated text; words: {sorted(words)}\n"
        + "\n".join(f"{k}: {sorted(v)}" for k, v in sorted(problems.items()))
    )


_INTERFACE_RUNS = frozenset(_interface_chinese())


def test_the_messages_named_in_the_issue_are_in_the_readers_language() -> None:
    from duban.kernel.errors import Msg
    from duban.web.i18n import translate
    from duban.web.templating import environment

    # A photo that cannot be read: no library internals (BytesIO) in the message.
    assert "照片" in translate("the file is not a readable image", "zh")
    missing = Msg("case {case_id} does not exist or is not visible to you", case_id=3)
    assert "不存在" in translate(missing, "zh")
    # Notes the system writes in Chinese read in English on an English page.
    page = environment().from_string("{{ note|localize }}")
    assert page.render(lang="en", note="超期未处置，系统自动督办") == (
        "Overdue and not handled: supervised by the system"
    )
    assert page.render(lang="en", note="市民反映问题未解决：还是很脏") == (
        "The citizen says the problem is not solved: 还是很脏"
    )
    assert (
        page.render(lang="zh", note="市民反映问题未解决：还是很脏")
        == "市民反映问题未解决：还是很脏"
    )
