"""Open311 GeoReport v2 (with the FixMyStreet extensions) over Duban's own use cases.

This module speaks Open311's *meaning*, not its wire format: it returns plain views
(dataclasses) that ``duban.open311.api`` renders as XML or JSON from one model. The
rules live here:

* **Services are the taxonomy.** A service is a subclass (小类): ``service_code`` is its
  full code (``E0102``), ``group`` and the FixMyStreet ``groups`` come from its major
  class (大类), ``keywords`` from its keywords. Its definition lists the attributes of
  the Open311 configuration (all six datatypes; the filing conditions 立案条件 of the
  subclass as the ``condition`` list). The discovery ``changeset`` is the last time the
  taxonomy or the Open311 configuration changed.
* **A POST is a report.** It goes through :func:`duban.cases.actions.report_case`, the
  same use case as the native API (numbering, step timer, event chain), acting for the
  API key's client; what only Open311 carries (attributes, address_id, media URLs, the
  token, contact details) is kept beside the case in ``open311_requests``.
* **Statuses** map onto v2 ``open``/``closed`` and the FixMyStreet extended statuses in
  :data:`STATUS_TABLE`, the one table of that mapping.
* **Privacy.** No view carries reporter contact details; they never leave the database
  through Open311.

Errors are the project's (:mod:`duban.kernel.errors`); the API turns them into Open311's
error documents (404 unknown, 403 key, 400 everything else).
"""

from __future__ import annotations

import json
import math
import secrets
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from duban.accounts.models import Unit
from duban.adapters.photostore import PhotoStore
from duban.cases.actions import ActionInput, NewCase, perform_action, report_case
from duban.cases.audit import append_event
from duban.cases.models import Case, CaseEvent, CasePhoto
from duban.cases.workflow import (
    OPEN,
    PUBLIC_NOTE_ACTIONS,
    STATUS_LABELS,
    TERMINAL,
    Action,
    CaseStatus,
    Source,
)
from duban.evidence.photos import PhotoLimits, save_photo
from duban.kernel.context import Actor, Clock
from duban.kernel.db.models import Setting
from duban.kernel.db.session import begin_write
from duban.kernel.db.stamps import TAXONOMY_KEY
from duban.kernel.errors import DubanError, IllegalTransition, InvalidInput, NotFound, StaleCase
from duban.kernel.roles import Role
from duban.open311.apikeys import authenticate_key
from duban.open311.models import ApiKey, Open311Request, Open311Update
from duban.reference.models import Category, FilingCondition

SPECIFICATION: Final = "http://wiki.open311.org/GeoReport_v2"
CONFIG_KEY: Final = "open311"
#: The spec's default volume: the last 90 days or the first 1000 requests.
MAX_WINDOW: Final = timedelta(days=90)
MAX_REQUESTS: Final = 1000
MAX_DESCRIPTION_CHARS: Final = 4000
MAX_MEDIA_URLS: Final = 10
MAX_ATTRIBUTES: Final = 50
MAX_ATTRIBUTE_CHARS: Final = 4000
MAX_IDS: Final = 1000
#: The action name of an update pushed by a client that changes no status.
COMMENT_ACTION: Final = "comment"
NOT_PINPOINTED: Final = "#NOTPINPOINTED#"


# --------------------------------------------------------------------------- statuses


@dataclass(frozen=True)
class StatusMapping:
    """How one of our statuses is said in Open311."""

    v2: str  # GeoReport v2: open | closed
    extended: str  # FixMyStreet's extended status, lower case
    description: str  # the bulk layout's free-text status_description


def _mapping(status: CaseStatus, extended: str) -> StatusMapping:
    return StatusMapping(
        v2="closed" if status in TERMINAL else "open",
        extended=extended,
        description=STATUS_LABELS[status][1],
    )


S = CaseStatus
#: THE mapping of our statuses onto Open311 (v2 follows the workflow's TERMINAL set).
STATUS_TABLE: Final[Mapping[CaseStatus, StatusMapping]] = {
    S.REPORTED: _mapping(S.REPORTED, "investigating"),  # 已上报: being verified on site
    S.VERIFIED: _mapping(S.VERIFIED, "investigating"),  # 已核实: confirmed, not yet filed
    S.FILED: _mapping(S.FILED, "action_scheduled"),  # 已立案: waiting for dispatch
    S.DISPATCHED: _mapping(S.DISPATCHED, "action_scheduled"),  # 已派遣: the unit has it
    S.HANDLING: _mapping(S.HANDLING, "in_progress"),  # 处置中
    S.RETURNED: _mapping(S.RETURNED, "internal_referral"),  # 已回退: to be re-dispatched
    S.PARKED: _mapping(S.PARKED, "planned"),  # 已挂账: kept for later, clock stopped
    S.AWAITING_CHECK: _mapping(S.AWAITING_CHECK, "in_progress"),  # 待核查: fix reported
    S.CHECKED: _mapping(S.CHECKED, "fixed"),  # 核查通过: fix confirmed, closing pending
    S.CLOSED: _mapping(S.CLOSED, "fixed"),  # 已结案: closed only after a passed check
    S.REJECTED: _mapping(S.REJECTED, "not_councils_responsibility"),  # 不予受理
    S.VOIDED: _mapping(S.VOIDED, "no_further_action"),  # 已作废
    S.MERGED: _mapping(S.MERGED, "duplicate"),  # 已合并
}

#: FixMyStreet's extended statuses, and whether each means the problem is still open.
#: Used to read statuses that clients send (POST servicerequestupdates, status filters).
EXTENDED_IS_OPEN: Final[Mapping[str, bool]] = {
    "open": True,
    "reopen": True,
    "investigating": True,
    "action_scheduled": True,
    "in_progress": True,
    "planned": True,
    "for_triage": True,
    "internal_referral": True,
    "unchanged": True,
    "fixed": False,
    "closed": False,
    "duplicate": False,
    "not_councils_responsibility": False,
    "no_further_action": False,
    "cancelled": False,
}


def statuses_for(token: str) -> frozenset[CaseStatus]:
    """Our statuses that an Open311 status word selects (``open``, ``closed`` or extended)."""
    word = token.strip().lower().replace(" ", "_")
    if word == "open":
        return frozenset(OPEN)
    if word == "closed":
        return frozenset(TERMINAL)
    found = frozenset(s for s, m in STATUS_TABLE.items() if m.extended == word)
    if not found and word not in EXTENDED_IS_OPEN:
        names = ", ".join(["open", "closed", *sorted(EXTENDED_IS_OPEN)])
        raise InvalidInput(f"unknown status '{token}'; one of: {names}", field="status")
    return found


# --------------------------------------------------------------------------- configuration

DATATYPES: Final = ("string", "number", "datetime", "text", "singlevaluelist", "multivaluelist")
AUTOMATED: Final = ("hidden_field", "server_set")
#: A marker for an attribute whose values are the service's filing conditions.
CONDITIONS_VALUES: Final = "@conditions"


@dataclass(frozen=True)
class AttributeSpec:
    """An attribute asked for by services (configuration, not yet bound to a service)."""

    code: str
    datatype: str
    description: str
    required: bool = False
    variable: bool = True
    datatype_description: str = ""
    values: tuple[tuple[str, str], ...] = ()
    values_from_conditions: bool = False
    automated: str | None = None
    kinds: tuple[str, ...] = ()  # only services of these kinds (部件 component / 事件 event)
    services: tuple[str, ...] = ()  # only these service codes


#: The attributes every service asks for unless the city configures its own.
DEFAULT_ATTRIBUTES: Final[tuple[dict[str, Any], ...]] = (
    {
        "code": "condition",
        "datatype": "singlevaluelist",
        "description": "情况 (立案条件) — which best describes the problem?",
        "datatype_description": "choose one; staff confirm it when the case is filed",
        "values": CONDITIONS_VALUES,
    },
    {
        "code": "hazards",
        "datatype": "multivaluelist",
        "description": "影响 — what does it cause?",
        "datatype_description": "choose any",
        "values": [
            {"key": "traffic", "name": "妨碍通行 Blocks a road or walkway"},
            {"key": "safety", "name": "危及安全 Danger to people"},
            {"key": "pollution", "name": "污染或异味 Pollution or smell"},
            {"key": "recurring", "name": "反复出现 Keeps coming back"},
        ],
    },
    {
        "code": "observed_at",
        "datatype": "datetime",
        "description": "发现时间 — when did you see it?",
        "datatype_description": "ISO 8601 with a zone, e.g. 2026-11-23T08:30:00+08:00",
    },
    {
        "code": "quantity",
        "datatype": "number",
        "description": "数量或面积 — how many items, or how many square metres?",
        "datatype_description": "a number",
    },
    {
        "code": "landmark",
        "datatype": "string",
        "description": "附近标志物 — a landmark nearby",
        "datatype_description": "one line",
    },
    {
        "code": "details",
        "datatype": "text",
        "description": "补充说明 — anything else the crew should know",
        "datatype_description": "several lines",
    },
    {
        "code": "asset_id",
        "datatype": "string",
        "description": "部件编码 — the asset's code (filled in from the map)",
        "automated": "hidden_field",
        "kinds": ["component"],
    },
    {
        "code": "fixmystreet_id",
        "datatype": "string",
        "description": "The report's id on the client (set by the client's server)",
        "automated": "server_set",
    },
    {
        "code": "emergency_notice",
        "datatype": "string",
        "variable": False,
        "description": "紧急情况请拨打 12319 城管热线 — for emergencies call 12319",
    },
)


# By default the notes the public timeline shows (a city may add e.g. "feedback").
DEFAULT_PUBLIC_NOTES: Final = tuple(sorted(a.value for a in PUBLIC_NOTE_ACTIONS))


@dataclass(frozen=True)
class Open311Config:
    """The Open311 face of the city (the ``open311`` settings row; defaults otherwise).

    ``update_policy`` says what a client's update to a *closed* case that says the
    problem is still there (e.g. a citizen's "still not fixed") does: ``note`` records it
    on the case's timeline for staff to decide (the default), ``reopen`` reopens the case
    (重新打开, back to its unit with a new clock): the admin who sets it delegates that
    decision to the Open311 channel.
    """

    jurisdiction_id: str | None = None
    contact: str = "城市管理监督指挥中心 / City-management supervision centre"
    key_service: str = "API keys are issued by the city's Duban administrator"
    endpoint_type: str = "production"
    service_type: str = "realtime"
    update_policy: str = "note"
    source: Source = Source.CITIZEN
    area: Mapping[str, Any] | None = None
    fallback_point: tuple[float, float] | None = None  # (lat, lon) for address-only reports
    attributes: tuple[AttributeSpec, ...] = ()
    #: The actions whose notes the public may read as ``status_notes`` (by default those
    #: of the workflow's PUBLIC_NOTE_ACTIONS: why a report was not accepted); the label of
    #: the status otherwise. Staff notes stay inside unless the city lists their action.
    public_note_actions: tuple[str, ...] = DEFAULT_PUBLIC_NOTES


def _attribute_spec(raw: Mapping[str, Any], where: str) -> AttributeSpec:
    code = str(raw.get("code") or "").strip()
    if not code or len(code) > 64 or not all(c.isalnum() or c in "_-." for c in code):
        raise InvalidInput(f"{where}: 'code' must be 1-64 letters, digits, '_', '-' or '.'")
    datatype = str(raw.get("datatype") or "")
    if datatype not in DATATYPES:
        raise InvalidInput(f"{where}: datatype must be one of {', '.join(DATATYPES)}")
    automated = raw.get("automated")
    if automated is not None and automated not in AUTOMATED:
        raise InvalidInput(f"{where}: automated must be one of {', '.join(AUTOMATED)}")
    raw_values = raw.get("values") or ()
    from_conditions = raw_values == CONDITIONS_VALUES
    values: list[tuple[str, str]] = []
    if not from_conditions:
        for value in raw_values:
            if not isinstance(value, Mapping) or not str(value.get("key") or ""):
                raise InvalidInput(f"{where}: each value needs a 'key' and a 'name'")
            values.append((str(value["key"]), str(value.get("name") or value["key"])))
    if datatype.endswith("list") and not values and not from_conditions:
        raise InvalidInput(f"{where}: a {datatype} needs 'values'")
    return AttributeSpec(
        code=code,
        datatype=datatype,
        description=str(raw.get("description") or code),
        required=bool(raw.get("required", False)),
        variable=bool(raw.get("variable", True)),
        datatype_description=str(raw.get("datatype_description") or ""),
        values=tuple(values),
        values_from_conditions=from_conditions,
        automated=automated,
        kinds=tuple(str(k) for k in raw.get("kinds") or ()),
        services=tuple(str(s) for s in raw.get("services") or ()),
    )


def parse_config(data: Mapping[str, Any]) -> Open311Config:
    """Validate the ``open311`` settings (every key optional)."""
    service_type = str(data.get("service_type", "realtime"))
    if service_type not in ("realtime", "batch"):
        raise InvalidInput("service_type must be 'realtime' or 'batch'", field="service_type")
    policy = str(data.get("update_policy", "note"))
    if policy not in ("note", "reopen"):
        raise InvalidInput("update_policy must be 'note' or 'reopen'", field="update_policy")
    endpoint_type = str(data.get("endpoint_type", "production"))
    if endpoint_type not in ("production", "test"):
        raise InvalidInput("endpoint_type must be 'production' or 'test'", field="endpoint_type")
    try:
        source = Source(str(data.get("source", Source.CITIZEN.value)))
    except ValueError as err:
        raise InvalidInput(f"unknown source {data.get('source')!r}", field="source") from err
    area = data.get("area")
    if area is not None:
        _shape(area)
    fallback = data.get("fallback_point")
    point: tuple[float, float] | None = None
    if fallback is not None:
        try:
            point = (float(fallback[0]), float(fallback[1]))
        except (TypeError, ValueError, IndexError) as err:
            raise InvalidInput("fallback_point must be [lat, lon]", field="fallback_point") from err
    raw_attributes = data.get("attributes", DEFAULT_ATTRIBUTES)
    specs = tuple(
        _attribute_spec(raw, f"attributes[{i}]") for i, raw in enumerate(raw_attributes or ())
    )
    codes = [s.code for s in specs]
    if len(set(codes)) != len(codes):
        raise InvalidInput("attribute codes must be unique", field="attributes")
    defaults = Open311Config()
    public_notes = data.get("public_note_actions", DEFAULT_PUBLIC_NOTES)
    known = {a.value for a in Action}
    if not isinstance(public_notes, list | tuple) or not set(public_notes) <= known:
        raise InvalidInput(
            f"public_note_actions must be a list of actions ({', '.join(sorted(known))})",
            field="public_note_actions",
        )
    jurisdiction = data.get("jurisdiction_id")
    return Open311Config(
        jurisdiction_id=str(jurisdiction) if jurisdiction else None,
        contact=str(data.get("contact") or defaults.contact),
        key_service=str(data.get("key_service") or defaults.key_service),
        endpoint_type=endpoint_type,
        service_type=service_type,
        update_policy=policy,
        source=source,
        area=area,
        fallback_point=point,
        attributes=specs,
        public_note_actions=tuple(str(a) for a in public_notes),
    )


_config_lock = threading.Lock()
_config_cache: dict[tuple[str, datetime | None, str], Open311Config] = {}
_EPOCH: Final = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Live:
    """The configuration in force and the discovery changeset that versions it."""

    config: Open311Config
    changeset: datetime


def load_config(session: Session) -> Live:
    """The live Open311 configuration (cached per change) and the changeset."""
    rows = {
        key: (value, stamp)
        for key, value, stamp in session.execute(
            select(Setting.key, Setting.value, Setting.updated_at).where(
                Setting.key.in_((CONFIG_KEY, TAXONOMY_KEY))
            )
        )
    }
    stamps = [stamp for _, stamp in rows.values()]
    changeset = max(stamps) if stamps else _EPOCH
    own = rows.get(CONFIG_KEY)
    # Keyed on the content too: a row deleted and written again (tests, restores) may
    # carry an old stamp.
    text = json.dumps(own[0], sort_keys=True, default=str) if own else ""
    cache_key = (str(session.get_bind().engine.url), own[1] if own else None, text)
    with _config_lock:
        cached = _config_cache.get(cache_key)
    if cached is None:
        cached = parse_config(own[0] if own and isinstance(own[0], Mapping) else {})
        with _config_lock:
            _config_cache.clear()
            _config_cache[cache_key] = cached
    return Live(cached, changeset)


def save_config(session: Session, data: Mapping[str, Any], *, now: datetime) -> Open311Config:
    """Validate and store the Open311 configuration (bumps the changeset). Commits."""
    config = parse_config(data)
    begin_write(session)
    row = session.get(Setting, CONFIG_KEY)
    stamp = (
        now if row is None or row.updated_at < now else row.updated_at + timedelta(microseconds=1)
    )
    if row is None:
        session.add(Setting(key=CONFIG_KEY, value=dict(data), updated_at=stamp))
    else:
        row.value = dict(data)
        row.updated_at = stamp
    session.commit()
    return config


def check_jurisdiction(config: Open311Config, value: str | None) -> None:
    """One jurisdiction per endpoint: an unknown ``jurisdiction_id`` is 404; none is fine."""
    if value and config.jurisdiction_id and value != config.jurisdiction_id:
        raise NotFound(f"unknown jurisdiction_id '{value}'")


def _shape(geometry: Any) -> Any:
    from shapely.geometry import shape  # deferred: only location filters need geometry

    try:
        geom = shape(geometry)
    except (ValueError, TypeError, AttributeError, KeyError) as err:
        raise InvalidInput(f"the area is not a GeoJSON geometry: {err}", field="area") from err
    if geom.is_empty or not geom.is_valid:
        raise InvalidInput("the area must be a valid, non-empty geometry", field="area")
    return geom


# --------------------------------------------------------------------------- parsing helpers


def parse_float(value: str | None, name: str) -> float | None:
    """A finite number, or None when absent."""
    if value is None or not value.strip():
        return None
    try:
        number = float(value)
    except ValueError as err:
        raise InvalidInput(f"'{name}' must be a number, not '{value}'", field=name) from err
    if not math.isfinite(number):
        raise InvalidInput(f"'{name}' must be a finite number", field=name)
    return number


def parse_when(value: str | None, name: str, tz: tzinfo) -> datetime | None:
    """A W3C/ISO 8601 datetime (a date alone means its midnight); no zone means the city's."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if text.endswith(("z", "Z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as err:
        raise InvalidInput(
            f"'{name}' must be a W3C datetime such as 2010-01-01T00:00:00Z, not '{value}'",
            field=name,
        ) from err
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def _point(lat: float | None, lon: float | None) -> tuple[float, float] | None:
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        missing = "lat" if lat is None else "long"
        raise InvalidInput(f"'lat' and 'long' go together; '{missing}' is missing", field=missing)
    if not -90.0 <= lat <= 90.0:
        raise InvalidInput(f"lat {lat} is out of range (-90..90)", field="lat")
    if not -180.0 <= lon <= 180.0:
        raise InvalidInput(f"long {lon} is out of range (-180..180)", field="long")
    return lat, lon


# --------------------------------------------------------------------------- services


@dataclass(frozen=True)
class ServiceView:
    """One entry of GET services."""

    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str
    groups: tuple[str, ...]


@dataclass(frozen=True)
class AttributeView:
    """One attribute of a service definition."""

    code: str
    variable: bool
    datatype: str
    required: bool
    datatype_description: str
    order: int
    description: str
    values: tuple[tuple[str, str], ...]
    automated: str | None


@dataclass(frozen=True)
class DefinitionView:
    """GET services/{code}."""

    service_code: str
    attributes: tuple[AttributeView, ...]


@dataclass(frozen=True)
class _Taxonomy:
    """The active subclasses with their major classes and conditions, read once."""

    subclasses: Mapping[str, Category]
    majors: Mapping[str, Category]
    conditions: Mapping[str, Sequence[FilingCondition]]


def _taxonomy(session: Session) -> _Taxonomy:
    cats = list(
        session.scalars(
            select(Category).where(Category.is_active).order_by(Category.position, Category.code)
        )
    )
    conditions: dict[str, list[FilingCondition]] = {}
    for cond in session.scalars(
        select(FilingCondition)
        .where(FilingCondition.is_active)
        .order_by(FilingCondition.position, FilingCondition.code)
    ):
        conditions.setdefault(cond.category_code, []).append(cond)
    majors = {c.code: c for c in cats if c.level == 1}
    subclasses = {c.code: c for c in cats if c.level == 2 and c.parent_code in majors}
    return _Taxonomy(subclasses, majors, conditions)


def _attributes_of(
    config: Open311Config, category: Category, conditions: Sequence[FilingCondition]
) -> tuple[AttributeView, ...]:
    views: list[AttributeView] = []
    for spec in config.attributes:
        if spec.kinds and category.kind not in spec.kinds:
            continue
        if spec.services and category.code not in spec.services:
            continue
        values = spec.values
        if spec.values_from_conditions:
            values = tuple((c.code, c.name) for c in conditions)
            if not values:
                continue
        views.append(
            AttributeView(
                code=spec.code,
                variable=spec.variable,
                datatype=spec.datatype,
                required=spec.required and spec.variable,
                datatype_description=spec.datatype_description,
                order=len(views) + 1,
                description=spec.description,
                values=values,
                automated=spec.automated,
            )
        )
    return tuple(views)


def _service_view(config: Open311Config, tax: _Taxonomy, category: Category) -> ServiceView:
    major = tax.majors[category.parent_code or ""]
    attributes = _attributes_of(config, category, tax.conditions.get(category.code, ()))
    description = category.name_en or category.name
    return ServiceView(
        service_code=category.code,
        service_name=category.name,
        description=f"{category.name} — {description}" if category.name_en else description,
        metadata=bool(attributes),
        type=config.service_type,
        keywords=",".join(dict.fromkeys(k for k in (category.keywords or []) if k)),
        group=major.name,
        groups=(major.name,),
    )


def list_services(
    session: Session, *, lat: str | None = None, lon: str | None = None
) -> list[ServiceView]:
    """GET services; with ``lat``/``long``, only services offered at that point."""
    live = load_config(session)
    point = _point(parse_float(lat, "lat"), parse_float(lon, "long"))
    if point is not None and live.config.area is not None:
        from shapely.geometry import Point

        if not _shape(live.config.area).covers(Point(point[1], point[0])):
            return []
    tax = _taxonomy(session)
    return [_service_view(live.config, tax, c) for c in tax.subclasses.values()]


def service_definition(session: Session, code: str) -> DefinitionView:
    """GET services/{code}: the attributes a request for this service carries."""
    live = load_config(session)
    category = _active_service(session, code)
    conditions = [c for c in category.conditions if c.is_active]
    return DefinitionView(
        service_code=category.code,
        attributes=_attributes_of(live.config, category, conditions),
    )


def _active_service(session: Session, code: str | None) -> Category:
    if not code or not code.strip():
        raise InvalidInput("'service_code' is required", field="service_code")
    category = session.get(Category, code.strip())
    if category is None or not category.is_active or category.level != 2:
        raise NotFound(f"unknown service_code '{code}'; see GET services")
    return category


@dataclass(frozen=True)
class DiscoveryView:
    """GET discovery (the endpoint URL is the API's to know)."""

    changeset: datetime
    contact: str
    key_service: str
    endpoint_type: str
    specification: str = SPECIFICATION


def discovery(session: Session) -> DiscoveryView:
    """What a client needs to find and use this endpoint."""
    live = load_config(session)
    return DiscoveryView(
        changeset=live.changeset,
        contact=live.config.contact,
        key_service=live.config.key_service,
        endpoint_type=live.config.endpoint_type,
    )


# --------------------------------------------------------------------------- POST requests


@dataclass(frozen=True)
class RequestForm:
    """The arguments of POST requests as strings (empty ones already dropped)."""

    service_code: str | None = None
    lat: str | None = None
    long: str | None = None
    address_string: str | None = None
    address_id: str | None = None
    description: str | None = None
    attributes: Mapping[str, str | Sequence[str]] = field(default_factory=dict)
    media_urls: Sequence[str] = ()
    email: str | None = None
    device_id: str | None = None
    account_id: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    crs: str | None = None  # extension: lat/long in gcj02 or bd09 (Chinese map apps)
    jurisdiction_id: str | None = None


@dataclass(frozen=True)
class Submitted:
    """The answer to a POST: an id (realtime) or a token (batch), never both."""

    service_request_id: str | None
    token: str | None
    service_notice: str | None
    account_id: str | None
    case: Case


def client_actor(key: ApiKey, role: Role = Role.OPERATOR) -> Actor:
    """The actor an API key's client acts as (its name is kept on the events)."""
    return Actor(user_id=None, username=f"open311:{key.name}", role=role)


def _check_attribute(spec: AttributeView, value: str | Sequence[str]) -> str | list[str]:
    name = f"attribute[{spec.code}]"
    if spec.datatype == "multivaluelist":
        items = [value] if isinstance(value, str) else list(value)
        items = [v for v in (i.strip() for i in items) if v]
        keys = {k for k, _ in spec.values}
        bad = [v for v in items if v not in keys]
        if bad:
            raise InvalidInput(
                f"{name}: {', '.join(bad)} not among {', '.join(sorted(keys))}", field=name
            )
        return items
    if not isinstance(value, str):
        if len(value) != 1:
            raise InvalidInput(f"{name} takes one value", field=name)
        value = value[0]
    text = value.strip()
    if len(text) > MAX_ATTRIBUTE_CHARS:
        raise InvalidInput(f"{name} is longer than {MAX_ATTRIBUTE_CHARS} characters", field=name)
    if spec.datatype == "number":
        parse_float(text, name)
    elif spec.datatype == "datetime":
        parse_when(text, name, UTC)
    elif spec.datatype == "singlevaluelist":
        keys = {k for k, _ in spec.values}
        if text not in keys:
            raise InvalidInput(
                f"{name}: '{text}' is not one of {', '.join(sorted(keys))}", field=name
            )
    elif spec.datatype == "string" and ("\n" in text or len(text) > 1000):
        raise InvalidInput(f"{name} must be one line of at most 1000 characters", field=name)
    return text


def _check_attributes(
    definition: DefinitionView, given: Mapping[str, str | Sequence[str]]
) -> dict[str, str | list[str]]:
    if len(given) > MAX_ATTRIBUTES:
        raise InvalidInput(f"at most {MAX_ATTRIBUTES} attributes", field="attribute")
    specs = {a.code: a for a in definition.attributes}
    errors: list[InvalidInput] = []
    clean: dict[str, str | list[str]] = {}
    for code, value in given.items():
        spec = specs.get(code)
        try:
            if spec is None:
                # Unknown codes (e.g. FixMyStreet's server-set uprn) are kept, not checked.
                items = [value] if isinstance(value, str) else list(value)
                if any(len(v) > MAX_ATTRIBUTE_CHARS for v in items) or len(code) > 64:
                    raise InvalidInput(f"attribute[{code}] is too long", field=f"attribute[{code}]")
                clean[code] = value if isinstance(value, str) else list(value)
            elif spec.variable:
                clean[code] = _check_attribute(spec, value)
        except InvalidInput as err:
            errors.append(err)
    for spec in definition.attributes:
        if spec.required and spec.code not in given:
            errors.append(
                InvalidInput(
                    f"attribute[{spec.code}] is required: {spec.description}",
                    field=f"attribute[{spec.code}]",
                )
            )
    if errors:
        raise _many(errors)
    return clean


def _many(errors: Sequence[DubanError]) -> InvalidInput:
    """One error carrying several (Open311 error documents may list many)."""
    first = errors[0]
    if len(errors) == 1 and isinstance(first, InvalidInput):
        return first
    return InvalidInput(
        "; ".join(e.message for e in errors),
        field=None,
        errors=[e.message for e in errors],
    )


def _check_media_urls(urls: Sequence[str]) -> list[str]:
    clean = list(dict.fromkeys(u.strip() for u in urls if u.strip()))
    if len(clean) > MAX_MEDIA_URLS:
        raise InvalidInput(f"at most {MAX_MEDIA_URLS} media_url values", field="media_url")
    for url in clean:
        if not url.lower().startswith(("http://", "https://")) or len(url) > 2000:
            raise InvalidInput(f"media_url '{url[:80]}' is not an http(s) URL", field="media_url")
    return clean


def _locate(form: RequestForm, config: Open311Config) -> tuple[float, float, bool, str]:
    """(lat, lon, pinpointed, crs) from lat/long (in ``form.crs``; report_case converts
    them to WGS84), or the fallback point (WGS84) of a report that gives only an address."""
    point = _point(parse_float(form.lat, "lat"), parse_float(form.long, "long"))
    if point is not None:
        lat, lon = point  # in ``form.crs``: report_case converts it to WGS84
        pinpointed = (form.address_id or "") != NOT_PINPOINTED
        return lat, lon, pinpointed, form.crs or "wgs84"
    if not (form.address_string or form.address_id):
        raise InvalidInput(
            "a location is required: 'lat' and 'long', or 'address_string', or 'address_id'",
            field="lat",
        )
    fallback = config.fallback_point
    if fallback is None and config.area is not None:
        centre = _shape(config.area).representative_point()
        fallback = (centre.y, centre.x)
    if fallback is None:
        raise InvalidInput(
            "this server cannot place an address on the map yet; send 'lat' and 'long'",
            field="address_string",
        )
    return fallback[0], fallback[1], False, "wgs84"


@dataclass(frozen=True)
class Uploads:
    """Photos sent as multipart files with a POST, and where to keep them."""

    files: Sequence[bytes]
    store: PhotoStore
    limits: PhotoLimits
    tz: ZoneInfo


def submit_request(
    session: Session,
    *,
    api_key: str | None,
    clock: Clock,
    form: RequestForm,
    uploads: Uploads | None = None,
) -> Submitted:
    """POST requests: check everything, then report the case through the native use case.

    Nothing is stored when a check fails. Uploaded photos are saved after the checks and
    before the case (as with the native API's photo upload); the case and its Open311
    details are written in one transaction.
    """
    key, live, category, checked = check_request(session, api_key=api_key, form=form)
    lat, lon, pinpointed, crs = _locate(form, live.config)
    actor = client_actor(key)
    photo_ids: list[str] = []
    if uploads is not None:
        for data in uploads.files:
            photo = save_photo(
                session,
                actor=actor,
                clock=clock,
                store=uploads.store,
                data=data,
                limits=uploads.limits,
                tz=uploads.tz,
            )
            photo_ids.append(photo.id)
    condition = checked.get("condition")
    description = (form.description or "").strip() or category.name
    name = " ".join(
        p for p in ((form.last_name or "").strip(), (form.first_name or "").strip()) if p
    )
    case, _ = report_case(
        session,
        actor=actor,
        clock=clock,
        data=NewCase(
            source=live.config.source,
            category_code=category.code,
            condition_code=condition if isinstance(condition, str) else None,
            lat=lat,
            lon=lon,
            address=(form.address_string or "").strip()[:300],
            description=description,
            reporter_name=name[:100] or None,
            reporter_phone=(form.phone or "").strip()[:32] or None,
            photo_ids=tuple(photo_ids),
            crs=crs,
        ),
        commit=False,
    )
    token = secrets.token_hex(16)
    contact = {
        k: v.strip()[:200]
        for k, v in (
            ("email", form.email),
            ("device_id", form.device_id),
            ("account_id", form.account_id),
            ("first_name", form.first_name),
            ("last_name", form.last_name),
            ("phone", form.phone),
        )
        if v and v.strip()
    }
    session.add(
        Open311Request(
            case_id=case.id,
            channel="open311",
            api_key_id=key.id,
            token=token,
            service_code=category.code,
            address_id=(form.address_id or "").strip()[:200] or None,
            is_pinpointed=pinpointed,
            attributes=checked,
            media_urls=_check_media_urls(form.media_urls),
            contact=contact,
            extra={},
            created_at=clock.now(),
        )
    )
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    batch = live.config.service_type == "batch"
    notice = (
        f"已受理，案卷号 {case.code}；先核实再立案 — received as case {case.code}; "
        "it is verified on site before it is filed"
    )
    return Submitted(
        service_request_id=None if batch else case.code,
        token=token if batch else None,
        service_notice=notice,
        account_id=contact.get("account_id"),
        case=case,
    )


def check_request(
    session: Session, *, api_key: str | None, form: RequestForm
) -> tuple[ApiKey, Live, Category, dict[str, str | list[str]]]:
    """Everything about a POST that can be refused before anything is stored.

    Order of the checks: the jurisdiction (404), the key (403), the service (404), then
    the arguments (400).
    """
    live = load_config(session)
    check_jurisdiction(live.config, form.jurisdiction_id)
    key = authenticate_key(session, api_key)
    category = _active_service(session, form.service_code)
    # The conditions (one more query) matter only when an attribute listing them is
    # required or given; an attribute neither required nor given checks nothing.
    needed = any(
        s.values_from_conditions and (s.required or s.code in form.attributes)
        for s in live.config.attributes
    )
    conditions = [c for c in category.conditions if c.is_active] if needed else []
    definition = DefinitionView(category.code, _attributes_of(live.config, category, conditions))
    errors: list[DubanError] = []
    checked: dict[str, str | list[str]] = {}
    try:
        checked = _check_attributes(definition, form.attributes)
    except InvalidInput as err:
        errors.extend(InvalidInput(m) for m in err.detail.get("errors") or [err.message])
    for check in (
        lambda: _locate(form, live.config),
        lambda: _check_media_urls(form.media_urls),
        lambda: _check_description(form.description),
    ):
        try:
            check()
        except InvalidInput as err:
            errors.append(err)
    if errors:
        raise _many(errors)
    return key, live, category, checked


def _check_description(text: str | None) -> None:
    if text and len(text) > MAX_DESCRIPTION_CHARS:
        raise InvalidInput(
            f"'description' is {len(text)} characters; the limit is {MAX_DESCRIPTION_CHARS}",
            field="description",
        )


@dataclass(frozen=True)
class TokenView:
    """GET tokens/{token}: the id once the request exists."""

    token: str
    service_request_id: str | None


def lookup_token(session: Session, token: str) -> TokenView:
    """The request a token stands for (404 for an unknown token)."""
    row = session.execute(
        select(Open311Request.token, Case.code)
        .join(Case, Case.id == Open311Request.case_id)
        .where(Open311Request.token == token.strip())
    ).first()
    if row is None:
        raise NotFound(f"unknown token '{token}'")
    return TokenView(token=str(row[0]), service_request_id=row[1])


# --------------------------------------------------------------------------- GET requests


@dataclass(frozen=True)
class RequestView:
    """One service request as Open311 shows it (never with contact details)."""

    service_request_id: str
    status: str
    status_extended: str
    status_notes: str | None
    service_name: str
    service_code: str
    description: str
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: datetime
    updated_datetime: datetime
    expected_datetime: datetime | None
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    photo_ids: tuple[str, ...]
    media_urls: tuple[str, ...]
    # Our extra fields (``extensions=true`` and the bulk layout).
    case_id: int
    duban_status: CaseStatus
    source: Source
    kind: str
    group: str
    condition_code: str | None
    unit_code: str | None
    grid_code: str | None
    rework_count: int
    is_supervised: bool
    closed_datetime: datetime | None
    attributes: Mapping[str, Any]
    channel: str | None


@dataclass(frozen=True)
class RequestQuery:
    """The filters of GET requests, parsed."""

    ids: tuple[str, ...] = ()
    service_codes: tuple[str, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: frozenset[CaseStatus] | None = None
    bbox: tuple[float, float, float, float] | None = None  # min lon, min lat, max lon, max lat
    page: int = 1
    page_size: int = MAX_REQUESTS


def _csv(value: str | None) -> tuple[str, ...]:
    return tuple(p for p in (x.strip() for x in (value or "").split(",")) if p)


def _int(value: str | None, name: str, default: int, lo: int, hi: int) -> int:
    if value is None or not value.strip():
        return default
    try:
        number = int(value)
    except ValueError as err:
        raise InvalidInput(f"'{name}' must be a whole number", field=name) from err
    if not lo <= number <= hi:
        raise InvalidInput(f"'{name}' must be between {lo} and {hi}", field=name)
    return number


def window(
    start: datetime | None, end: datetime | None, now: datetime, name: str = "date"
) -> tuple[datetime, datetime]:
    """The spec's window: at most 90 days; the most recent 90 days by default."""
    if start is None and end is None:
        return now - MAX_WINDOW, now
    if start is None:
        assert end is not None
        return end - MAX_WINDOW, end
    if end is None:
        return start, start + MAX_WINDOW
    if end < start:
        raise InvalidInput(f"end_{name} is before start_{name}", field=f"end_{name}")
    if end - start > MAX_WINDOW:
        raise InvalidInput(
            f"start_{name} to end_{name} may not span more than 90 days", field=f"end_{name}"
        )
    return start, end


def parse_request_query(params: Mapping[str, str], *, tz: tzinfo) -> RequestQuery:
    """GET requests' arguments (empty ones already dropped) into a :class:`RequestQuery`."""
    ids = _csv(params.get("service_request_id"))
    if len(ids) > MAX_IDS:
        raise InvalidInput(
            f"at most {MAX_IDS} service_request_id values", field="service_request_id"
        )
    statuses: frozenset[CaseStatus] | None = None
    words = _csv(params.get("status"))
    if words:
        statuses = frozenset().union(*(statuses_for(w) for w in words))
    bbox = None
    if params.get("bbox"):
        parts = params["bbox"].split(",")
        numbers = [parse_float(p, "bbox") for p in parts]
        if len(numbers) != 4 or any(n is None for n in numbers):
            raise InvalidInput("bbox is min_long,min_lat,max_long,max_lat", field="bbox")
        a, b, c, d = (float(n) for n in numbers if n is not None)
        if a > c or b > d:
            raise InvalidInput("bbox corners are swapped", field="bbox")
        bbox = (a, b, c, d)
    page, page_size = parse_paging(params)
    return RequestQuery(
        ids=ids,
        service_codes=_csv(params.get("service_code")),
        start=parse_when(params.get("start_date"), "start_date", tz),
        end=parse_when(params.get("end_date"), "end_date", tz),
        statuses=statuses,
        bbox=bbox,
        page=page,
        page_size=page_size,
    )


def parse_paging(params: Mapping[str, str]) -> tuple[int, int]:
    """The ``page``/``page_size`` extension: pages from 1, at most 1000 a page."""
    return (
        _int(params.get("page"), "page", 1, 1, 1_000_000),
        _int(params.get("page_size"), "page_size", MAX_REQUESTS, 1, MAX_REQUESTS),
    )


def query_requests(
    session: Session, *, query: RequestQuery, now: datetime, config: Open311Config
) -> list[RequestView]:
    """GET requests: newest first; ``service_request_id`` overrides every other filter."""
    stmt = select(Case)
    if query.ids:
        stmt = stmt.where(Case.code.in_(query.ids))
    else:
        start, end = window(query.start, query.end, now)
        stmt = stmt.where(Case.created_at >= start, Case.created_at <= end)
        if query.service_codes:
            stmt = stmt.where(Case.category_code.in_(query.service_codes))
        if query.statuses is not None:
            stmt = stmt.where(Case.status.in_(sorted(query.statuses)))
        if query.bbox is not None:
            x0, y0, x1, y1 = query.bbox
            stmt = stmt.where(Case.lon.between(x0, x1), Case.lat.between(y0, y1))
        stmt = stmt.offset((query.page - 1) * query.page_size).limit(query.page_size)
    cases = list(session.scalars(stmt.order_by(Case.created_at.desc(), Case.id.desc())))
    return request_views(session, cases, config)


def get_request(session: Session, service_request_id: str, config: Open311Config) -> RequestView:
    """GET requests/{id} (404 when there is no such request)."""
    case = session.scalars(select(Case).where(Case.code == service_request_id.strip())).first()
    if case is None:
        raise NotFound(f"no service request '{service_request_id}'")
    return request_views(session, [case], config)[0]


def _chunks(items: Sequence[int], size: int = 500) -> Iterable[Sequence[int]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def request_views(
    session: Session, cases: Sequence[Case], config: Open311Config
) -> list[RequestView]:
    """Views of ``cases`` with a fixed number of queries, whatever their number;
    ``config`` says whose notes are public."""
    if not cases:
        return []
    public_actions = config.public_note_actions
    ids = [c.id for c in cases]
    names = {
        code: (name, parent)
        for code, name, parent in session.execute(
            select(Category.code, Category.name, Category.parent_code)
        )
    }
    unit_ids = {c.unit_id for c in cases if c.unit_id is not None}
    units = (
        {
            uid: (code, name)
            for uid, code, name in session.execute(
                select(Unit.id, Unit.code, Unit.name).where(Unit.id.in_(unit_ids))
            )
        }
        if unit_ids
        else {}
    )
    links: dict[int, Open311Request] = {}
    notes: dict[int, str] = {}
    photos: dict[int, list[str]] = {}
    for chunk in _chunks(ids):
        links.update(
            (r.case_id, r)
            for r in session.scalars(
                select(Open311Request).where(Open311Request.case_id.in_(chunk))
            )
        )
        for case_id, note in session.execute(
            select(CaseEvent.case_id, CaseEvent.note)
            .where(
                CaseEvent.case_id.in_(chunk),
                CaseEvent.note != "",
                CaseEvent.action.in_(public_actions),
                or_(
                    CaseEvent.from_status.is_(None),
                    CaseEvent.from_status != CaseEvent.to_status,
                ),
            )
            .order_by(CaseEvent.case_id, CaseEvent.seq)
        ):
            notes[case_id] = note  # the last public status change with a note wins
        for case_id, photo_id in session.execute(
            select(CasePhoto.case_id, CasePhoto.photo_id)
            .where(CasePhoto.case_id.in_(chunk), CasePhoto.stage.in_(("before", "after")))
            .order_by(CasePhoto.case_id, CasePhoto.stage.desc(), CasePhoto.id)
        ):
            photos.setdefault(case_id, []).append(photo_id)
    views = []
    for case in cases:
        mapping = STATUS_TABLE[case.status]
        link = links.get(case.id)
        pinpointed = link.is_pinpointed if link is not None else True
        name, parent = names.get(case.category_code, (case.category_code, None))
        group = names.get(parent, ("", None))[0] if parent else ""
        unit = units.get(case.unit_id) if case.unit_id is not None else None
        label_zh, label_en, _ = STATUS_LABELS[case.status]
        views.append(
            RequestView(
                service_request_id=case.code,
                status=mapping.v2,
                status_extended=mapping.extended,
                status_notes=notes.get(case.id) or f"{label_zh} {label_en}",
                service_name=name,
                service_code=case.category_code,
                description=case.description,
                agency_responsible=unit[1] if unit else None,
                service_notice="已督办 — under supervision (督办)" if case.is_supervised else None,
                requested_datetime=case.created_at,
                updated_datetime=(case.closed_at or case.updated_at)
                if case.status in TERMINAL
                else case.updated_at,
                expected_datetime=case.due_at,
                address=case.address or None,
                address_id=link.address_id if link is not None else None,
                zipcode=None,
                lat=case.lat if pinpointed else None,
                long=case.lon if pinpointed else None,
                photo_ids=tuple(photos.get(case.id, ())),
                media_urls=tuple(link.media_urls or ()) if link is not None else (),
                case_id=case.id,
                duban_status=case.status,
                source=case.source,
                kind=case.kind,
                group=group,
                condition_code=case.condition_code,
                unit_code=unit[0] if unit else None,
                grid_code=case.grid_code,
                rework_count=case.rework_count,
                is_supervised=case.is_supervised,
                closed_datetime=case.closed_at,
                attributes=dict(link.attributes or {}) if link is not None else {},
                channel=link.channel if link is not None else None,
            )
        )
    return views


# --------------------------------------------------------------------------- updates


@dataclass(frozen=True)
class UpdateView:
    """One entry of GET servicerequestupdates: an event of a case."""

    update_id: str
    service_request_id: str
    status: str  # extended, lower case
    updated_datetime: datetime
    description: str
    photo_ids: tuple[str, ...]
    media_urls: tuple[str, ...]
    external_status_code: str  # the action, e.g. dispatch, feedback, comment


def list_updates(
    session: Session,
    *,
    start: datetime | None,
    end: datetime | None,
    now: datetime,
    page: int = 1,
    page_size: int = MAX_REQUESTS,
) -> list[UpdateView]:
    """GET servicerequestupdates: status changes and client comments, oldest first.

    ``update_id`` is the event's id, so it never changes. Internal steps that change no
    status (task assignment, extension requests) are staff work and are not listed.
    """
    lo, hi = window(start, end, now)
    rows = session.execute(
        select(CaseEvent, Case.code)
        .join(Case, Case.id == CaseEvent.case_id)
        .where(
            CaseEvent.occurred_at >= lo,
            CaseEvent.occurred_at <= hi,
            CaseEvent.action != Action.REPORT.value,
            or_(
                CaseEvent.action == COMMENT_ACTION,
                and_(
                    CaseEvent.from_status.is_not(None), CaseEvent.from_status != CaseEvent.to_status
                ),
            ),
        )
        .order_by(CaseEvent.occurred_at, CaseEvent.id)
        .offset((page - 1) * page_size)
        .limit(page_size)
    ).all()
    keys = {(e.case_id, e.seq) for e, _ in rows}
    photos: dict[tuple[int, int], list[str]] = {}
    case_ids = sorted({k[0] for k in keys})
    for chunk in _chunks(case_ids):
        for case_id, seq, photo_id in session.execute(
            select(CasePhoto.case_id, CasePhoto.event_seq, CasePhoto.photo_id)
            .where(CasePhoto.case_id.in_(chunk))
            .order_by(CasePhoto.id)
        ):
            if (case_id, seq) in keys:
                photos.setdefault((case_id, seq), []).append(photo_id)
    views = []
    for event, code in rows:
        status = CaseStatus(event.to_status)
        label_zh, label_en, _ = STATUS_LABELS[status]
        payload = json.loads(event.payload or "{}")
        urls = payload.get("media_urls") if isinstance(payload, dict) else None
        views.append(
            UpdateView(
                update_id=str(event.id),
                service_request_id=code,
                status=STATUS_TABLE[status].extended,
                updated_datetime=event.occurred_at,
                description=event.note or f"{label_zh} {label_en}",
                photo_ids=tuple(photos.get((event.case_id, event.seq), ())),
                media_urls=tuple(u for u in urls or () if isinstance(u, str)),
                external_status_code=event.action,
            )
        )
    return views


@dataclass(frozen=True)
class UpdateForm:
    """The arguments of POST servicerequestupdates as strings (empty ones dropped)."""

    service_request_id: str | None = None
    update_id: str | None = None
    status: str | None = None
    updated_datetime: str | None = None
    description: str | None = None
    media_urls: Sequence[str] = ()
    email: str | None = None
    phone: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    title: str | None = None
    account_id: str | None = None
    service_code: str | None = None
    external_status_code: str | None = None
    jurisdiction_id: str | None = None


@dataclass(frozen=True)
class UpdateAccepted:
    """The answer to POST servicerequestupdates."""

    update_id: str
    account_id: str | None
    replayed: bool


def post_update(
    session: Session, *, api_key: str | None, clock: Clock, form: UpdateForm, tz: tzinfo
) -> UpdateAccepted:
    """POST servicerequestupdates: a client's update, idempotent on its ``update_id``.

    The update becomes one event on the case. By default (``update_policy: note``) it is
    a ``comment`` event that changes no status. With ``update_policy: reopen``, an update
    saying the problem is still there on a *closed* case reopens it (重新打开) with the
    update's text as the reason.
    """
    live = load_config(session)
    check_jurisdiction(live.config, form.jurisdiction_id)
    key = authenticate_key(session, api_key)
    missing = [
        name
        for name in ("service_request_id", "update_id", "status", "updated_datetime", "description")
        if not (getattr(form, name) or "").strip()
    ]
    if missing:
        raise _many([InvalidInput(f"Bad request: {m}", field=m) for m in missing])
    update_id = (form.update_id or "").strip()
    word = (form.status or "").strip().lower().replace(" ", "_")
    code = (form.service_request_id or "").strip()
    text = (form.description or "").strip()
    if len(update_id) > 64:
        raise InvalidInput("Bad request: update_id is longer than 64 characters", field="update_id")
    if word not in EXTENDED_IS_OPEN:
        raise InvalidInput(f"Bad request: status '{form.status}' is not known", field="status")
    at = parse_when(form.updated_datetime, "updated_datetime", tz)
    _check_description(form.description)
    urls = _check_media_urls(form.media_urls)

    existing = _existing_update(session, key, update_id)
    if existing is not None:
        return _replayed(session, existing, form)
    case = session.scalars(select(Case).where(Case.code == code)).first()
    if case is None:
        raise NotFound(f"not found: service request '{form.service_request_id}'")
    contact = {
        k: v.strip()[:200]
        for k, v in (
            ("email", form.email),
            ("phone", form.phone),
            ("first_name", form.first_name),
            ("last_name", form.last_name),
            ("title", form.title),
            ("account_id", form.account_id),
        )
        if v and v.strip()
    }
    payload = {
        "channel": "open311",
        "client": key.name,
        "update_id": update_id,
        "status": word,
        "updated_datetime": at.isoformat() if at else None,
        "media_urls": urls,
    }
    if (
        live.config.update_policy == "reopen"
        and case.status == CaseStatus.CLOSED
        and EXTENDED_IS_OPEN[word]
    ):
        try:
            event = _reopen(session, case, key, clock, text)
        except IllegalTransition:
            event = None
        if event is not None:
            return _remember(session, key, update_id, case, event, word, contact, clock, form)
    begin_write(session)
    session.refresh(case)
    event = append_event(
        session,
        case,
        action=COMMENT_ACTION,
        from_status=case.status.value,
        to_status=case.status.value,
        actor=client_actor(key, Role.CITIZEN),
        at=clock.now(),
        note=text,
        payload=payload,
    )
    case.updated_at = clock.now()
    return _remember(session, key, update_id, case, event, word, contact, clock, form)


def _reopen(session: Session, case: Case, key: ApiKey, clock: Clock, text: str) -> CaseEvent:
    """Reopen a closed case on a client's word, as the policy delegates it."""
    actor = Actor(user_id=None, username=f"open311:{key.name}", role=Role.SHIFT_LEAD)
    perform_action(
        session,
        case_id=case.id,
        action=Action.REOPEN,
        actor=actor,
        clock=clock,
        params=ActionInput(reason=f"[Open311 {key.name}] {text}"[:2000]),
    )
    event = session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq.desc())
    ).first()
    assert event is not None
    return event


def _existing_update(session: Session, key: ApiKey, update_id: str) -> Open311Update | None:
    return session.scalars(
        select(Open311Update).where(
            Open311Update.api_key_id == key.id, Open311Update.update_id == update_id
        )
    ).first()


def _replayed(session: Session, row: Open311Update, form: UpdateForm) -> UpdateAccepted:
    code = session.scalar(select(Case.code).where(Case.id == row.case_id))
    if form.service_request_id and code != form.service_request_id.strip():
        raise InvalidInput(
            f"Bad request: update_id '{row.update_id}' already exists for another request",
            field="update_id",
        )
    return UpdateAccepted(update_id=str(row.event_id), account_id=form.account_id, replayed=True)


def _remember(
    session: Session,
    key: ApiKey,
    update_id: str,
    case: Case,
    event: CaseEvent,
    status: str,
    contact: Mapping[str, Any],
    clock: Clock,
    form: UpdateForm,
) -> UpdateAccepted:
    begin_write(session)
    try:
        session.flush()
    except (StaleDataError, IntegrityError) as err:
        session.rollback()
        raise StaleCase(case.id) from err
    session.add(
        Open311Update(
            api_key_id=key.id,
            update_id=update_id,
            case_id=case.id,
            event_id=event.id,
            status=status,
            contact=dict(contact),
            created_at=clock.now(),
        )
    )
    try:
        session.commit()
    except StaleDataError as err:
        session.rollback()
        raise StaleCase(case.id) from err
    except IntegrityError as err:
        # The same update_id arrived twice at once: the other copy won; answer as it did.
        session.rollback()
        existing = _existing_update(session, key, update_id)
        if existing is None:
            raise StaleCase(case.id) from err
        return _replayed(session, existing, form)
    except BaseException:
        session.rollback()
        raise
    return UpdateAccepted(update_id=str(event.id), account_id=form.account_id, replayed=False)
