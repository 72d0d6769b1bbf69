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
from sqlalchemy import text as sql

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
from duban.web.errors_zh import ERRORS_ZH
from duban.web.messages_en import EN
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


def _sign_in(client: TestClient, app: FastAPI, world: World, username: str, lang: str) -> str:
    """Sign ``username`` in (or no one) with the page language ``lang``; the form token."""
    client.cookies.clear()
    now = int(world.clock.now().timestamp())
    session = sessions.WebSession.fresh(now=now, lang=lang)
    if username != "anonymous":
        user = world.users[username]
        session = session.signed_in(user.id, sessions.user_fingerprint(user.password_hash), now)
    client.cookies.set(sessions.COOKIE_NAME, sessions.encode(session, app.state.secret_key))
    return session.csrf


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


#: The tables of the things with an English name (their Chinese one must not show on an
#: English page).
NAMED_TABLES = ("categories", "units", "regions", "filing_conditions")
#: The pages that keep both names of a thing (the admin edits the Chinese and the English).
BOTH_NAMES_PAGES = frozenset({"/admin/units"})


def _named_in_chinese(world: World) -> frozenset[str]:
    """The Chinese names of the categories (大类 and 小类), units and regions that have an
    English name: an English page shows that one."""
    names: set[str] = set()
    for table in NAMED_TABLES:
        for name, name_en in world.session.execute(sql(f"SELECT name, name_en FROM {table}")):
            if name_en and name_en != name and CJK.search(name):
                names.add(name)
    return frozenset(names)


def _sentences(named: frozenset[str]) -> frozenset[str]:
    """The names that are sentences (filing conditions: 雨水箅子丢失，形成孔洞，…): split
    into several runs by their punctuation, so a page is searched for the whole name."""
    return frozenset(name for name in named if CJK.fullmatch(name) is None)


def _free_text_runs(world: World) -> frozenset[str]:
    """The Chinese runs of the text people typed (descriptions, notes, addresses...): a
    name quoted in it is theirs, not the interface's."""
    system = frozenset(ZH.values())
    runs: set[str] = set()
    for table in Base.metadata.sorted_tables:
        if table.name in NAMED_TABLES:
            continue
        for row in world.session.execute(select(table)):
            for v in row:
                if isinstance(v, str) and v not in system:
                    runs.update(CJK.findall(v))
    return frozenset(runs)


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
    named = _named_in_chinese(world)
    # 小类, 大类, unit, region, filing condition
    assert {"暴露垃圾", "市容环境", "环境卫生管理处", "魏都区", "积存渣土"} <= named
    sentences = _sentences(named)
    assert "道路、广场等公共区域可见暴露垃圾" in sentences
    typed = _free_text_runs(world)
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
                    runs = CJK.findall(text)
                    found = {
                        run
                        for run in runs
                        if run not in ALLOWED_CHINESE
                        and run in _INTERFACE_RUNS
                        and not any(run in d for d in data)
                    }
                    # A category, unit or region named in Chinese though it has an
                    # English name (not where someone typed it into a text).
                    if path not in BOTH_NAMES_PAGES:
                        found |= {run for run in runs if run in named and run not in typed}
                        found |= {name for name in sentences if name in text}
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


# --------------------------------------------------------------------------- error answers

#: Three or more English words in a row, separated by spaces: a sentence left in English.
#: Codes, units, header names and a list of field names ("lat, lon") are not sentences.
ENGLISH_SENTENCE = re.compile(r"[A-Za-z]{2,}(?: +[A-Za-z']{2,}){2,}")


def _key_patterns(keys: list[str]) -> list[re.Pattern[str]]:
    """Each key as it reads once filled in: its placeholders match anything."""
    out = []
    for key in keys:
        parts = re.split(r"\{[^{}]*\}", key.replace("{{", "{").replace("}}", "}"))
        out.append(re.compile(".*".join(re.escape(p) for p in parts), re.DOTALL))
    return out


def _raw_templates(text: str, lang: str) -> list[str]:
    """Catalogue keys shown as they are where the reader's text should be: in Chinese any
    English key of the errors, in English a key that has its own English."""
    keys = list(ERRORS_ZH if lang == "zh" else EN)
    patterns = _KEY_PATTERNS_ZH if lang == "zh" else _KEY_PATTERNS_EN
    return [
        k
        for k, p in zip(keys, patterns, strict=True)
        if len(re.sub(r"\{[^{}]*\}", "", k)) > 12 and p.search(text)  # enough words to tell
    ]


def message_problems(message: str, lang: str, allowed: frozenset[str] = frozenset()) -> list[str]:
    """What is wrong with an error message people read in ``lang``."""
    # The API's English is the templates' own (fields, paths, headers for a program's
    # author): only the pages' English must not show them.
    api_english = lang == "api"
    lang = "en" if api_english else lang
    problems = [] if api_english else [f"raw template {k!r}" for k in _raw_templates(message, lang)]
    if "{" in message or "}" in message:
        problems.append("a placeholder left unfilled")
    if lang == "en":
        problems += [f"Chinese {run!r}" for run in CJK.findall(message) if run not in allowed]
    else:
        cleaned = re.sub(r"https?://\S+|\S+@\S+", " ", message)
        problems += [f"English {run!r}" for run in ENGLISH_SENTENCE.findall(cleaned)]
    return problems


def _form_errors(browser: TestClient, app: FastAPI, world: World, lang: str) -> dict[str, str]:
    """Forms refused and pages not found: the error text of each."""
    filed = world.case_in(CaseStatus.FILED)
    out: dict[str, str] = {}
    csrf = _sign_in(browser, app, world, "dispatcher", lang)
    for name, data in {
        "dispatch to an unknown unit": {"unit": "NOPE"},
        "dispatch without a unit": {},
        "dispatch with the lead as a helper": {"unit": "HWC", "helper_units": "HWC"},
    }.items():
        response = browser.post(
            f"/cases/{filed.id}/act/dispatch", data={"csrf_token": csrf, **data}
        )
        assert 400 <= response.status_code < 500, (name, response.status_code)
        out[name] = _error_text(response.text)
    missing = browser.get("/cases/99999999")
    assert missing.status_code == 404
    out["a case that does not exist"] = _error_text(missing.text)
    _sign_in(browser, app, world, "anonymous", lang)
    unknown = browser.get("/track", params={"code": "??"})
    assert unknown.status_code == 404
    out["an unknown tracking code"] = _error_text(unknown.text)
    return out


def _error_text(page: str) -> str:
    """The page's error messages (field errors and the error notice)."""
    found = re.findall(
        r'(?s)<(?:p|div|span|small)[^>]*class="[^"]*(?:error|alert|notice)[^"]*"[^>]*>(.*?)</',
        page,
    )
    text = " ".join(visible_text(f) for f in found).strip()
    assert text, page[:2000]
    return text


def test_error_answers_are_in_the_language_of_the_reader(
    browser: TestClient, app: FastAPI, world: World
) -> None:
    from tests.http import API, Api

    api = Api(browser, app, world, world.clock)
    problems: dict[str, list[str]] = {}
    for lang, header in (("en", "en"), ("zh", "zh-CN,zh;q=0.9")):
        answers: dict[str, str] = {}
        for name, (method, path, body, by) in {
            "a case that does not exist": ("GET", "/cases/99999999", None, "dispatcher"),
            "an invalid report (validation)": ("POST", "/cases", {"lat": "north"}, "operator"),
            "no such path": ("GET", "/no-such-thing", None, "dispatcher"),
            "not signed in": ("GET", "/cases", None, None),
            "a map box not in degrees": ("GET", "/regions?bbox=a,b", None, "dispatcher"),
        }.items():
            headers = {"Accept-Language": header, **(api.headers(by) if by else {})}
            response = browser.request(method, f"{API}{path}", json=body, headers=headers)
            assert 400 <= response.status_code < 500, (name, response.text)
            error = response.json()["error"]
            assert set(error) >= {"code", "message"}  # the JSON keeps its shape
            answers[f"API {name}"] = error["message"]
        browser.cookies.clear()
        answers.update({f"form {k}": v for k, v in _form_errors(browser, app, world, lang).items()})
        for name, message in answers.items():
            reader = "api" if lang == "en" and name.startswith("API ") else lang
            found = message_problems(message, reader)
            if found:
                problems[f"{lang} {name}: {message!r}"] = found
        if lang == "en":
            assert "does not exist or is not visible" in answers["API a case that does not exist"]
            assert "you do not have access" in answers["form a case that does not exist"]
        else:
            assert "您无权查看" in answers["API a case that does not exist"]
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())


def test_the_heuristics_catch_what_they_are_for() -> None:
    assert message_problems("case 3 does not exist or is not visible to you", "en")
    assert message_problems("case 3 does not exist or is not visible to you", "zh")
    assert message_problems("请求无效 — field required for this", "zh")
    assert message_problems("Unknown unit 西大街道", "en")
    assert not message_problems("未知单位“HWC”", "zh")
    assert not message_problems("单位“SZGC”不存在，请检查 GPS 坐标", "zh")
    assert not message_problems("This case does not exist, or you do not have access to it.", "en")


def test_regions_and_jobs_are_named_in_the_readers_language(
    browser: TestClient, app: FastAPI, world: World
) -> None:
    from tests.factories.campaigns import EAST, WEST

    make_regions(world.session)
    for lang, east, west in (
        ("en", "Dongdajie Subdistrict", "西大街街道"),  # no English name: the Chinese one
        ("zh", "东大街街道", "西大街街道"),
    ):
        _sign_in(browser, app, world, "anonymous", lang)
        assert east in browser.get("/public", params={"region": EAST}).text
        assert west in browser.get("/public", params={"region": WEST}).text
        _sign_in(browser, app, world, "admin", lang)
        page = visible_text(browser.get("/admin/worker").text)
        assert "job:" not in page
        assert "delivery:" not in page
        assert ("Overdue sweep and warnings" if lang == "en" else "超期巡检与预警") in page
    _sign_in(browser, app, world, "anonymous", "en")
    assert "东大街街道" not in visible_text(browser.get("/public", params={"region": EAST}).text)


_KEY_PATTERNS_ZH = _key_patterns(list(ERRORS_ZH))
_KEY_PATTERNS_EN = _key_patterns(list(EN))
