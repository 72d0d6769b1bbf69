"""The demo city: units, one user per role, places and a few cases in every stage.

Everything is created through the same use cases as real work, so the demo's events
are hash-chained like any others. Demo users exist only here, never in ``duban init``.
The places (districts to unit grids, zones, territorial units, routing rules) come from
:mod:`duban.demo.places`: real ones from the Xuchang files when a data directory is
given, else a generated city.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts.models import Unit, User
from duban.accounts.users import actor_of, create_unit, create_user, hash_password
from duban.cases.actions import ActionInput, NewCase, perform_action, report_case
from duban.cases.models import Case
from duban.cases.workflow import Action, Source
from duban.demo.places import check_data_dir, install_demo_places
from duban.evidence.photos import PhotoLimits, save_photo
from duban.handover.policy import shipped_data
from duban.handover.service import load_list
from duban.kernel.context import Actor, SystemClock
from duban.kernel.ports import PhotoStore
from duban.kernel.roles import Role
from duban.kernel.unitofwork import writing

#: The demo city's centre (许昌市魏都区, WGS84).
CENTRE_LON, CENTRE_LAT = 113.8166, 34.0297

DEMO_UNITS = [
    ("SZGC", "市政工程管理处", "professional"),
    ("HWC", "环境卫生管理处", "professional"),
    ("YLC", "园林绿化管理处", "professional"),
    ("ZFDD", "城市管理综合执法大队", "professional"),
]  # each street's office (属地, e.g. WDJD 西大街道) comes with the places
#: Their English names, for English pages.
DEMO_UNIT_NAMES_EN = {
    "SZGC": "Municipal Works Office",
    "HWC": "Sanitation Office",
    "YLC": "Parks and Greening Office",
    "ZFDD": "City Management Enforcement Brigade",
}

# (username, role, unit code, display name)
DEMO_USERS = [
    ("citizen", Role.CITIZEN, None, "市民 张先生"),
    ("collector", Role.COLLECTOR, None, "监督员 李明"),
    ("collector2", Role.COLLECTOR, None, "监督员 王芳"),
    ("operator", Role.OPERATOR, None, "受理员 赵静"),
    ("shift_lead", Role.SHIFT_LEAD, None, "值班长 孙强"),
    ("dispatcher", Role.DISPATCHER, None, "派遣员 周洋"),
    ("handler", Role.HANDLER, "SZGC", "市政工程管理处 经办人"),
    ("handler2", Role.HANDLER, "HWC", "环境卫生管理处 经办人"),
    ("handler3", Role.HANDLER, "YLC", "园林绿化管理处 经办人"),
    ("handler4", Role.HANDLER, "ZFDD", "执法大队 经办人"),
    ("supervisor", Role.SUPERVISOR, None, "督察 吴刚"),
    ("leader", Role.LEADER, None, "领导 郑主任"),
    ("admin", Role.ADMIN, None, "管理员"),
]


def _box(lon: float, lat: float, half_lon: float, half_lat: float) -> dict[str, object]:
    ring = [
        [lon - half_lon, lat - half_lat],
        [lon + half_lon, lat - half_lat],
        [lon + half_lon, lat + half_lat],
        [lon - half_lon, lat + half_lat],
        [lon - half_lon, lat - half_lat],
    ]
    return {"type": "Polygon", "coordinates": [ring]}


class _FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at


@dataclass
class DemoReport:
    """What the demo installed."""

    created: bool
    users: list[tuple[str, str]] = field(default_factory=list)
    cases: int = 0
    places: list[str] = field(default_factory=list)

    def describe(self, *, password: str) -> str:
        """The logins to print for a newcomer."""
        lines = [
            "Demo city: 许昌 (Xuchang) — units, users and sample cases are ready."
            if self.created
            else "Demo data was already there; nothing changed."
        ]
        lines.extend(self.places)
        lines.append(f"Sign in with any of these users; the password is '{password}':")
        for username, role in self.users:
            lines.append(f"  {username:<12} {role}")
        return "\n".join(lines)


def install_demo(
    session: Session, *, password: str, store: PhotoStore, places_data: Path | None = None
) -> DemoReport:
    """Create the demo units, users, places and cases once (re-running changes nothing).

    ``places_data``: a directory with the Xuchang files of ``shared/datasets`` for real
    places; without it the demo city is generated.
    """
    users = [(u, r.value) for u, r, _, _ in DEMO_USERS]
    if places_data is not None:
        check_data_dir(places_data)  # before anything is written
    if session.scalars(select(User).where(User.username == "admin")).first() is not None:
        return DemoReport(created=False, users=users)
    clock = SystemClock()
    with writing(session):
        for code, name, kind in DEMO_UNITS:
            if session.scalars(select(Unit).where(Unit.code == code)).first() is None:
                create_unit(
                    session, code=code, name=name, kind=kind, name_en=DEMO_UNIT_NAMES_EN.get(code)
                )
    beats = {
        "collector": _box(CENTRE_LON - 0.02, CENTRE_LAT, 0.02, 0.03),
        "collector2": _box(CENTRE_LON + 0.02, CENTRE_LAT, 0.02, 0.03),
    }
    made: dict[str, User] = {}
    shared_hash = hash_password(password)
    for username, role, unit, display in DEMO_USERS:
        made[username] = create_user(
            session,
            clock=clock,
            username=username,
            password=password,
            role=role,
            unit_code=unit,
            display_name=display,
            beat=beats.get(username),
            password_hash=shared_hash,
        )
    places = install_demo_places(session, now=clock.now(), data_dir=places_data)
    # 权责清单: the bodies outside 城管 and what belongs to them (pavement parking → 交警,
    # utility manhole covers → their owners, gas leaks → the gas company at once).
    load_list(session, shipped_data(), now=clock.now())
    cases = _demo_cases(session, {k: actor_of(v) for k, v in made.items()}, store)
    return DemoReport(created=True, users=users, cases=cases, places=places.lines)


def _demo_cases(session: Session, who: dict[str, Actor], store: PhotoStore) -> int:
    """A handful of cases spread over the closed loop, dated over the last days."""
    start = datetime.now(UTC) - timedelta(days=3)
    step = timedelta(minutes=37)
    t = start
    count = 0

    def at() -> _FixedClock:
        nonlocal t
        t += step
        return _FixedClock(t)

    def act(case_id: int, action: Action, actor: str, **kw: Any) -> None:
        perform_action(
            session,
            case_id=case_id,
            action=action,
            actor=who[actor],
            clock=at(),
            params=ActionInput(**kw),
        )

    samples = [
        (
            Source.PATROL,
            "collector",
            "C0101",
            "人民路与七一路交叉口上水井盖缺失，存在安全隐患",
            "人民路与七一路交叉口东北角",
            -0.010,
            0.004,
            "closed",
        ),
        (
            Source.CITIZEN,
            "citizen",
            "E0102",
            "小区门口堆放生活垃圾两天无人清理",
            "文峰路健康小区北门",
            0.006,
            -0.003,
            "handling",
        ),
        (
            Source.HOTLINE,
            "operator",
            "E0504",
            "饭店占道经营，桌椅摆到人行道上",
            "南关大街 88 号",
            -0.004,
            -0.006,
            "dispatched",
        ),
        (
            Source.PATROL,
            "collector",
            "C0402",
            "行道树倒伏压住非机动车道",
            "八一路中段",
            -0.015,
            0.010,
            "awaiting_check",
        ),
        (
            Source.CITIZEN,
            "citizen",
            "E0201",
            "电线杆上张贴大量非法小广告",
            "北大街与东大街交叉口",
            0.012,
            0.008,
            "reported",
        ),
        (
            Source.PATROL,
            "collector2",
            "C0118",
            "路灯不亮，夜间通行不便",
            "建安大道 300 号",
            0.020,
            0.002,
            "filed",
        ),
    ]
    for source, reporter, category, text, address, dlon, dlat, goal in samples:
        case, _ = report_case(
            session,
            actor=who[reporter],
            clock=at(),
            data=NewCase(
                source=source,
                category_code=category,
                lat=CENTRE_LAT + dlat,
                lon=CENTRE_LON + dlon,
                description=text,
                address=address,
                reporter_name="张先生" if reporter == "citizen" else None,
                reporter_phone="13800000000" if reporter == "citizen" else None,
            ),
        )
        count += 1
        cid = case.id
        if goal == "reported":
            continue
        if case.status.value == "reported":
            act(cid, Action.ASSIGN, "operator")
            collector = "collector" if dlon <= 0 else "collector2"
            act(cid, Action.VERIFY, collector, note="现场核实属实")
        act(cid, Action.FILE, "shift_lead", note="符合立案条件")
        if goal == "filed":
            continue
        # No unit given: the dispatcher follows the routing suggestion (see demo.places).
        act(cid, Action.DISPATCH, "dispatcher")
        if goal == "dispatched":
            continue
        led = session.scalars(select(Case).where(Case.id == cid)).one().unit
        unit = led.code if led else ""
        handler = {"SZGC": "handler", "HWC": "handler2", "YLC": "handler3", "ZFDD": "handler4"}[
            unit
        ]
        act(cid, Action.ACCEPT, handler)
        if goal == "handling":
            continue
        photo = _demo_photo(session, who[handler], at(), store, (60, 140, 90))
        act(cid, Action.FEEDBACK, handler, note="已处置完毕", photo_ids=[photo])
        if goal == "awaiting_check":
            continue
        act(cid, Action.ASSIGN, "operator")
        checker = "collector" if dlon <= 0 else "collector2"
        act(cid, Action.CHECK, checker, passed=True, note="现场核查已修复")
        act(cid, Action.CLOSE, "shift_lead", note="核查通过，予以结案")
    # Matters of bodies outside 城管 (权责清单): a car parked on the pavement handed over
    # to the traffic police by the dispatcher; a gas leak handed over at filing.
    handovers = [
        (
            "E0505",
            "E050502",
            "轿车长期停放在人行道上，行人只能绕行机动车道",
            "七一路 120 号",
            -0.006,
        ),
        ("E0403", "E040301", "路边闻到明显燃气味，疑似燃气管道泄漏", "建安大道与学院路口", 0.008),
    ]
    for category, condition, text, address, dlon in handovers:
        case, _ = report_case(
            session,
            actor=who["operator"],
            clock=at(),
            data=NewCase(
                source=Source.HOTLINE,
                category_code=category,
                condition_code=condition,
                lat=CENTRE_LAT + 0.002,
                lon=CENTRE_LON + dlon,
                description=text,
                address=address,
            ),
        )
        count += 1
        act(case.id, Action.ASSIGN, "operator")
        act(case.id, Action.VERIFY, "collector" if dlon <= 0 else "collector2", note="现场核实属实")
        act(case.id, Action.FILE, "shift_lead", note="符合立案条件")  # a gas leak: handed over
        filed = session.get(Case, case.id)
        if filed is not None and filed.status.value == "filed":
            act(case.id, Action.TRANSFER, "dispatcher", note="人行道停车由交警负责")
    return count


def _demo_photo(
    session: Session,
    actor: Actor,
    clock: _FixedClock,
    store: PhotoStore,
    colour: tuple[int, int, int],
) -> str:
    """A small generated after-photo (the demo ships no pictures of real places)."""
    import io

    from PIL import Image, ImageDraw

    image = Image.new("RGB", (640, 480), colour)
    draw = ImageDraw.Draw(image)
    draw.rectangle((40, 300, 600, 440), fill=(120, 120, 120))
    draw.text((60, 40), "Duban demo after-photo", fill=(255, 255, 255))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=80)
    photo = save_photo(
        session,
        actor=actor,
        clock=clock,
        store=store,
        data=buf.getvalue(),
        limits=PhotoLimits(10 * 1024 * 1024, 40_000_000),
        tz=ZoneInfo("Asia/Shanghai"),
    )
    return photo.id
