"""Pure rules of campaigns (专项整治 / 专项巡护 / 攻坚月): their kinds, their period in
local dates and the instants it covers, and the checks of a scope. No I/O, no clock."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from duban.kernel.errors import InvalidInput, Msg, PolicyError, cause


class CampaignStatus(StrEnum):
    """A campaign runs until a supervisor closes it; a closed one keeps its cases."""

    ACTIVE = "active"  # 进行中
    CLOSED = "closed"  # 已结束


CAMPAIGN_LABELS: Final[Mapping[CampaignStatus, tuple[str, str]]] = {
    CampaignStatus.ACTIVE: ("进行中", "Active"),
    CampaignStatus.CLOSED: ("已结束", "Closed"),
}


@dataclass(frozen=True)
class CampaignKind:
    """A kind of campaign, from the policy (``supervision.yaml`` ``campaign_kinds``)."""

    code: str
    zh: str
    en: str


#: The kinds when the policy names none.
DEFAULT_KINDS: Final[tuple[CampaignKind, ...]] = (
    CampaignKind("rectification", "专项整治", "Special rectification"),
    CampaignKind("patrol", "专项巡护", "Special patrol"),
    CampaignKind("assault_month", "攻坚月", "Assault month"),
)

#: Most codes of one kind a scope may name.
MAX_SCOPE_CODES: Final = 200
#: The longest a campaign may run, in days.
MAX_DAYS: Final = 366
_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")


def parse_kinds(data: Any) -> tuple[CampaignKind, ...]:
    """The ``campaign_kinds`` of the policy: ``[{code, zh, en}, ...]``."""
    if data is None:
        return DEFAULT_KINDS
    try:
        kinds = tuple(
            CampaignKind(str(k["code"]), str(k["zh"]), str(k.get("en") or k["zh"])) for k in data
        )
    except (KeyError, TypeError, AttributeError) as err:
        raise PolicyError(
            Msg("supervision.campaign_kinds: {err}", err=cause(err)),
            field="supervision",
            cause=str(err),
        ) from err
    if not kinds or len({k.code for k in kinds}) != len(kinds):
        raise PolicyError(
            "supervision.campaign_kinds: name at least one kind, each code once",
            field="supervision",
        )
    return kinds


@dataclass(frozen=True)
class Period:
    """From and to local dates, both inclusive."""

    starts_on: date
    ends_on: date

    @classmethod
    def parse(cls, starts_on: date | None, ends_on: date | None) -> Period:
        """Check the dates (InvalidInput naming the field)."""
        if starts_on is None:
            raise InvalidInput("this field is required", field="starts_on")
        if ends_on is None:
            raise InvalidInput("this field is required", field="ends_on")
        if ends_on < starts_on:
            raise InvalidInput("the campaign ends before it starts", field="ends_on")
        if (ends_on - starts_on).days + 1 > MAX_DAYS:
            raise InvalidInput("a campaign runs at most 366 days", field="ends_on")
        return cls(starts_on, ends_on)

    def bounds(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """The UTC instants it covers: from local midnight of the first day, up to (not
        including) local midnight after the last."""
        start = datetime.combine(self.starts_on, time(0), tz).astimezone(UTC)
        end = datetime.combine(self.ends_on + timedelta(days=1), time(0), tz).astimezone(UTC)
        return start, end


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    """The local date of an instant."""
    return moment.astimezone(tz).date()


def clean_codes(values: Iterable[str], field: str) -> list[str]:
    """Codes as given, stripped, each once, in order (InvalidInput if malformed)."""
    out = list(dict.fromkeys(v.strip() for v in values if v and v.strip()))
    if len(out) > MAX_SCOPE_CODES:
        raise InvalidInput("a scope names at most 200 codes of a kind", field=field)
    bad = [v for v in out if not _CODE.match(v)]
    if bad:
        raise InvalidInput("no such code", field=field, codes=bad[:10])
    return out


@dataclass(frozen=True)
class Scope:
    """What a campaign covers beside its period: categories (a major class covers its
    subclasses), regions (a district, street, community or grid) and sources. An empty
    list means any; categories or regions must name something."""

    categories: tuple[str, ...]
    regions: tuple[str, ...]
    sources: tuple[str, ...]

    @classmethod
    def parse(
        cls,
        categories: Sequence[str],
        regions: Sequence[str],
        sources: Sequence[str],
        *,
        known_sources: Iterable[str],
    ) -> Scope:
        cats = clean_codes(categories, "categories")
        regs = clean_codes(regions, "regions")
        srcs = list(dict.fromkeys(s.strip() for s in sources if s and s.strip()))
        allowed = set(known_sources)
        bad = [s for s in srcs if s not in allowed]
        if bad:
            raise InvalidInput("no such source", field="sources", sources=bad[:10])
        if not cats and not regs:
            raise InvalidInput(
                "name the categories or the regions the campaign covers", field="categories"
            )
        return cls(tuple(cats), tuple(regs), tuple(srcs))

    def as_rows(self) -> list[tuple[str, str]]:
        """(kind, code) rows, as stored."""
        return (
            [("category", c) for c in self.categories]
            + [("region", r) for r in self.regions]
            + [("source", s) for s in self.sources]
        )

    @classmethod
    def from_rows(cls, rows: Iterable[tuple[str, str]]) -> Scope:
        kinds: dict[str, list[str]] = {"category": [], "region": [], "source": []}
        for kind, code in rows:
            kinds.setdefault(kind, []).append(code)
        return cls(tuple(kinds["category"]), tuple(kinds["region"]), tuple(kinds["source"]))


def in_scope(
    scope: Scope,
    *,
    category: str,
    regions: Iterable[str | None],
    source: str,
) -> bool:
    """The in-memory twin of the tagging SQL, for one case's values."""
    if scope.categories and not any(category.startswith(c) for c in scope.categories):
        return False
    if scope.regions and not set(scope.regions) & {r for r in regions if r}:
        return False
    return not scope.sources or source in scope.sources


def fixed_rate(fixed: int, found: int) -> float | None:
    """Share fixed, in percent with one decimal (None when nothing was found)."""
    return round(100.0 * fixed / found, 1) if found else None
