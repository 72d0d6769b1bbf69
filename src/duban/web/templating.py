"""The Jinja2 environment: autoescaping on for everything, and display filters.

Every value reaches HTML through Jinja2's autoescape (``select_autoescape`` would leave
some extensions unescaped, so it is simply on). Nothing in the templates is marked
``|safe``; JSON for scripts goes through ``|tojson`` into single-quoted attributes, and the
dashboard's SVG chart is a template over numbers.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, StrictUndefined, pass_context
from jinja2.runtime import Context

from duban.cases.workflow import (
    ACTION_LABELS,
    RATING_LABELS,
    SOURCE_LABELS,
    STATUS_LABELS,
    Action,
    CaseStatus,
    Rating,
    Source,
)
from duban.kernel.roles import ROLE_LABELS, Role
from duban.web.i18n import translate
from duban.web.messages_en import EN
from duban.web.messages_zh import ZH


def _idx(ctx: Context) -> int:
    return 1 if ctx.get("lang") == "en" else 0


@pass_context
def local(ctx: Context, value: datetime | str | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time (or its ISO text, as events record it) shown in the city's zone."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return value
    else:
        when = value
    tz: ZoneInfo = ctx["tz"]
    return when.astimezone(tz).strftime(fmt)


@pass_context
def status_label(ctx: Context, value: CaseStatus | str) -> str:
    """A status in the page's language."""
    try:
        return STATUS_LABELS[CaseStatus(value)][_idx(ctx)]
    except ValueError:
        return str(value)


def status_colour(value: CaseStatus | str) -> str:
    """The colour name of a status (a CSS class suffix)."""
    try:
        return STATUS_LABELS[CaseStatus(value)][2]
    except ValueError:
        return "gray"


@pass_context
def action_label(ctx: Context, value: Action | str) -> str:
    """An action in the page's language."""
    try:
        return ACTION_LABELS[Action(value)][_idx(ctx)]
    except ValueError:
        return str(value)


@pass_context
def role_label(ctx: Context, value: Role | str) -> str:
    """A role in the page's language."""
    try:
        return ROLE_LABELS[Role(value)][_idx(ctx)]
    except ValueError:
        return str(value)


@pass_context
def source_label(ctx: Context, value: Source | str) -> str:
    """A source in the page's language."""
    try:
        return SOURCE_LABELS[Source(value)][_idx(ctx)]
    except ValueError:
        return str(value)


@pass_context
def rating_label(ctx: Context, value: Rating | str) -> str:
    """A rating in the page's language."""
    try:
        return RATING_LABELS[Rating(value)][_idx(ctx)]
    except ValueError:
        return str(value)


@pass_context
def duration(ctx: Context, seconds: float | None) -> str:
    """A span of time, e.g. ``1天3时`` / ``1d 3h``; negative spans are shown unsigned."""
    if seconds is None:
        return "—"
    total = int(abs(seconds)) // 60
    days, rest = divmod(total, 24 * 60)
    hours, minutes = divmod(rest, 60)
    en = ctx.get("lang") == "en"
    units = ("d", "h", "m") if en else ("天", "时", "分")
    parts = []
    if days:
        parts.append(f"{days}{units[0]}")
    if hours or days:
        parts.append(f"{hours}{units[1]}")
    if not days:
        parts.append(f"{minutes}{units[2]}")
    return (" " if en else "").join(parts)


def seconds_from(value: datetime | None, now: datetime) -> float | None:
    """Seconds from ``now`` until ``value`` (negative once it has passed)."""
    return None if value is None else (value - now).total_seconds()


def percent(value: float | None) -> str:
    """A rate as a percentage, or a dash when there is nothing to rate."""
    return "—" if value is None else f"{value * 100:.1f}%"


def amount(value: float | None) -> str:
    """A number without a needless ``.0`` (2 → "2", 1.5 → "1.5")."""
    return "—" if value is None else f"{value:g}"


def metres(value: float | None) -> str:
    """A distance for people: metres below 1 km, kilometres above."""
    if value is None:
        return "—"
    return f"{value:.0f} m" if value < 1000 else f"{value / 1000:.1f} km"


@pass_context
def limit_unit(ctx: Context, value: str | None) -> str:
    """A time-limit unit in the page's language."""
    names = {
        "work_hours": ("工作时", "working hours"),
        "work_days": ("工作日", "working days"),
        "hours": ("小时", "hours"),
        "days": ("天", "days"),
        "minutes": ("分钟", "minutes"),
    }
    pair = names.get(value or "")
    return pair[_idx(ctx)] if pair else str(value or "")


@pass_context
def named(ctx: Context, thing: Any) -> str:
    """The name of a unit, a category or anything with ``name`` and an optional English
    ``name_en``, in the page's language (the name where there is no English one)."""
    english = getattr(thing, "name_en", None) if _idx(ctx) == 1 else None
    return str(english or getattr(thing, "name", "") or "")


@pass_context
def tr(ctx: Context, text: str, **values: Any) -> str:
    """Translate inside an expression: ``{{ "Open"|tr }}``."""
    return translate(text, str(ctx.get("lang", "zh")), **values)


@pass_context
def localized(ctx: Context, message: str | None) -> str:
    """A service message or system note in the page's language: written in English, or a
    Chinese one of the policy data (the catalogue read backwards for English)."""
    lang = str(ctx.get("lang", "zh"))
    if lang == "en" and message:
        if message in _ENGLISH_OF:
            return _ENGLISH_OF[message]
        for pattern, english in _english_templates():
            found = pattern.match(message)
            if found:
                return english.format(**found.groupdict())
        return message
    return ZH.get(message or "", message or "")


_ENGLISH_OF: dict[str, str] = {zh: EN.get(en, en) for en, zh in ZH.items()}


@functools.cache
def _english_templates() -> tuple[tuple[re.Pattern[str], str], ...]:
    """The catalogue read backwards: a Chinese text with ``{name}`` placeholders as a
    pattern, and its English."""
    out = []
    for en, zh in ZH.items():
        parts = re.split(r"\{(\w+)\}", zh)
        if len(parts) != 3 or not parts[0] or set(re.findall(r"\{(\w+)\}", en)) != {parts[1]}:
            continue  # only a fixed prefix and one placeholder: the system notes
        body = re.escape(parts[0]) + f"(?P<{parts[1]}>.+)" + re.escape(parts[2])
        out.append((re.compile(f"^{body}$", re.DOTALL), EN.get(en, en)))
    return tuple(out)


@functools.cache
def environment() -> Environment:
    """The one template environment of the process."""
    env = Environment(
        loader=PackageLoader("duban.web", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
    )
    env.filters.update(
        local=local,
        status_label=status_label,
        status_colour=status_colour,
        action_label=action_label,
        role_label=role_label,
        source_label=source_label,
        rating_label=rating_label,
        duration=duration,
        percent=percent,
        seconds_from=seconds_from,
        amount=amount,
        metres=metres,
        limit_unit=limit_unit,
        tr=tr,
        named=named,
        localize=localized,
    )
    env.globals.update(
        CaseStatus=CaseStatus,
        Action=Action,
        Role=Role,
        Source=Source,
        Rating=Rating,
        SOURCES=list(Source),
        STATUSES=list(CaseStatus),
        RATINGS=list(Rating),
    )
    return env
