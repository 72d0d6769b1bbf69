"""Factories: units, users and cases in any status, built through the real use cases."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.accounts.models import Unit, User
from duban.accounts.users import actor_of, hash_password
from duban.adapters.photostore import LocalPhotoStore
from duban.cases.actions import ActionInput, NewCase, perform_action, report_case
from duban.cases.models import Case
from duban.cases.workflow import Action, CaseStatus, Source
from duban.evidence.photos import PhotoLimits, save_photo
from duban.kernel.context import Actor
from duban.kernel.roles import Role
from tests.fakes import SHANGHAI, FixedClock

PASSWORD = "test-password"
_HASH = hash_password(PASSWORD)  # once: Argon2 is slow on purpose

#: A point in the demo city (许昌, WGS84) and a beat around it.
LAT, LON = 34.03, 113.82
BEAT = {
    "type": "Polygon",
    "coordinates": [
        [[113.80, 34.01], [113.84, 34.01], [113.84, 34.05], [113.80, 34.05], [113.80, 34.01]]
    ],
}
CATEGORY = "E0102"  # 暴露垃圾


def make_unit(session: Session, code: str = "SZGC", name: str = "市政工程管理处") -> Unit:
    unit = session.scalars(select(Unit).where(Unit.code == code)).first()
    if unit is None:
        unit = Unit(code=code, name=name, kind="professional", is_active=True)
        session.add(unit)
        session.commit()
    return unit


def make_user(
    session: Session,
    username: str,
    role: Role,
    *,
    unit: Unit | None = None,
    beat: dict[str, Any] | None = None,
    clock: FixedClock | None = None,
) -> User:
    user = User(
        username=username,
        display_name=username,
        password_hash=_HASH,
        role=role,
        unit_id=unit.id if unit else None,
        beat=beat,
        is_active=True,
        created_at=(clock or FixedClock()).now(),
    )
    session.add(user)
    session.commit()
    return user


class World:
    """One user per role, two units, and helpers to move cases around."""

    def __init__(self, session: Session, clock: FixedClock) -> None:
        self.session = session
        self.clock = clock
        self.unit = make_unit(session, "SZGC", "市政工程管理处")
        self.unit2 = make_unit(session, "HWC", "环境卫生管理处")
        self.users: dict[str, User] = {}
        for name, role in [
            ("citizen", Role.CITIZEN),
            ("citizen2", Role.CITIZEN),
            ("collector", Role.COLLECTOR),
            ("collector2", Role.COLLECTOR),
            ("operator", Role.OPERATOR),
            ("shift_lead", Role.SHIFT_LEAD),
            ("dispatcher", Role.DISPATCHER),
            ("supervisor", Role.SUPERVISOR),
            ("leader", Role.LEADER),
            ("admin", Role.ADMIN),
        ]:
            beat = BEAT if name == "collector" else None
            self.users[name] = make_user(session, name, role, beat=beat, clock=clock)
        self.users["handler"] = make_user(session, "handler", Role.HANDLER, unit=self.unit)
        self.users["handler2"] = make_user(session, "handler2", Role.HANDLER, unit=self.unit2)
        self.store: LocalPhotoStore | None = None

    def actor(self, name: str) -> Actor:
        return actor_of(self.users[name])

    def report(
        self,
        *,
        by: str = "operator",
        source: Source = Source.HOTLINE,
        category: str = CATEGORY,
        lat: float = LAT,
        lon: float = LON,
        description: str = "小区门口暴露垃圾",
        **kw: Any,
    ) -> Case:
        case, _ = report_case(
            self.session,
            actor=self.actor(by),
            clock=self.clock,
            data=NewCase(
                source=source,
                category_code=category,
                lat=lat,
                lon=lon,
                description=description,
                **kw,
            ),
        )
        return case

    def act(self, case: Case | int, action: Action | str, by: str, **params: Any) -> Case:
        case_id = case if isinstance(case, int) else case.id
        return perform_action(
            self.session,
            case_id=case_id,
            action=Action(action),
            actor=self.actor(by),
            clock=self.clock,
            params=ActionInput(**params),
        )

    def photo(self, colour: tuple[int, int, int] = (10, 120, 30), by: str = "handler") -> str:
        """A stored JPEG uploaded by ``by`` (a report attaches only its author's photos)."""
        assert self.store is not None, "set world.store to a LocalPhotoStore first"
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), colour).save(buf, "JPEG")
        photo = save_photo(
            self.session,
            actor=self.actor(by),
            clock=self.clock,
            store=self.store,
            data=buf.getvalue(),
            limits=PhotoLimits(10_000_000, 40_000_000),
            tz=SHANGHAI,
        )
        return photo.id

    def case_in(self, status: CaseStatus, **report_kw: Any) -> Case:
        """A case driven along the happy path until it reaches ``status``."""
        path: Sequence[tuple[Action, str, dict[str, Any]]] = [
            (Action.ASSIGN, "operator", {"collector": "collector"}),
            (Action.VERIFY, "collector", {}),
            (Action.FILE, "shift_lead", {}),
            (Action.DISPATCH, "dispatcher", {"unit": "SZGC"}),
            (Action.ACCEPT, "handler", {}),
            (Action.FEEDBACK, "handler", {"photo_ids": "PHOTO"}),
            (Action.ASSIGN, "operator", {"collector": "collector"}),
            (Action.CHECK, "collector", {"passed": True}),
            (Action.CLOSE, "shift_lead", {}),
        ]
        case = self.report(**report_kw)
        for action, by, params in path:
            if case.status == status:
                return case
            if params.get("photo_ids") == "PHOTO":
                params = {"photo_ids": [self.photo()]}
            case = self.act(case, action, by, **params)
        assert case.status == status, f"cannot drive a case to {status}"
        return case
