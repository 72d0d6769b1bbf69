"""The Open311 configuration: attribute specs, the defaults, parsing it, and loading and
saving it (one ``settings`` row, cached by its stamp).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.cases import PUBLIC_NOTE_ACTIONS, Action, Source
from duban.kernel.db.models import Setting
from duban.kernel.db.stamps import TAXONOMY_KEY
from duban.kernel.errors import InvalidInput, Msg, NotFound
from duban.kernel.unitofwork import writing
from duban.open311.parsing import parse_area

CONFIG_KEY: Final = "open311"


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
        raise InvalidInput(
            Msg("{where}: 'code' must be 1-64 letters, digits, '_', '-' or '.'", where=where)
        )
    datatype = str(raw.get("datatype") or "")
    if datatype not in DATATYPES:
        raise InvalidInput(
            Msg(
                "{where}: datatype must be one of {choices}",
                where=where,
                choices=", ".join(DATATYPES),
            )
        )
    automated = raw.get("automated")
    if automated is not None and automated not in AUTOMATED:
        raise InvalidInput(
            Msg(
                "{where}: automated must be one of {choices}",
                where=where,
                choices=", ".join(AUTOMATED),
            )
        )
    raw_values = raw.get("values") or ()
    from_conditions = raw_values == CONDITIONS_VALUES
    values: list[tuple[str, str]] = []
    if not from_conditions:
        for value in raw_values:
            if not isinstance(value, Mapping) or not str(value.get("key") or ""):
                raise InvalidInput(
                    Msg("{where}: each value needs a 'key' and a 'name'", where=where)
                )
            values.append((str(value["key"]), str(value.get("name") or value["key"])))
    if datatype.endswith("list") and not values and not from_conditions:
        raise InvalidInput(
            Msg("{where}: a {datatype} needs 'values'", where=where, datatype=datatype)
        )
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
        raise InvalidInput(
            Msg("unknown source {value!r}", value=data.get("source")), field="source"
        ) from err
    area = data.get("area")
    if area is not None:
        parse_area(area)
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
            Msg(
                "public_note_actions must be a list of actions ({choices})",
                choices=", ".join(sorted(known)),
            ),
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
    """Validate and store the Open311 configuration (bumps the changeset)."""
    config = parse_config(data)
    with writing(session):
        row = session.get(Setting, CONFIG_KEY)
        stamp = (
            now
            if row is None or row.updated_at < now
            else row.updated_at + timedelta(microseconds=1)
        )
        if row is None:
            session.add(Setting(key=CONFIG_KEY, value=dict(data), updated_at=stamp))
        else:
            row.value = dict(data)
            row.updated_at = stamp
        return config


def check_jurisdiction(config: Open311Config, value: str | None) -> None:
    """One jurisdiction per endpoint: an unknown ``jurisdiction_id`` is 404; none is fine."""
    if value and config.jurisdiction_id and value != config.jurisdiction_id:
        raise NotFound(Msg("unknown jurisdiction_id '{value}'", value=value))
