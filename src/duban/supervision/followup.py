"""Pure rules of joint handling (会商 / 联席会议) and revisits (回头看): revisit policy,
when a revisit falls due, its states and reasons. No I/O, no clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Final

from duban.kernel.errors import Msg, PolicyError


class RevisitState(StrEnum):
    """Where a revisit (回头看) task stands."""

    DUE = "due"  # 待回访
    PASSED = "passed"  # 回访通过
    FAILED = "failed"  # 回潮: the problem came back


REVISIT_LABELS: Final[Mapping[RevisitState, tuple[str, str]]] = {
    RevisitState.DUE: ("待回头看", "Due"),
    RevisitState.PASSED: ("回访通过", "Passed"),
    RevisitState.FAILED: ("回潮", "Recurred"),
}


class RevisitReason(StrEnum):
    """Why a revisit failed (a code evaluation can count)."""

    RECURRED = "recurred"  # 问题反弹
    NOT_KEPT = "not_kept"  # 未长效保持
    NOT_FIXED = "not_fixed"  # 整改不到位
    OTHER = "other"  # 其他


REASON_LABELS: Final[Mapping[RevisitReason, tuple[str, str]]] = {
    RevisitReason.RECURRED: ("问题反弹", "The problem came back"),
    RevisitReason.NOT_KEPT: ("未长效保持", "Not kept up"),
    RevisitReason.NOT_FIXED: ("整改不到位", "Not really fixed"),
    RevisitReason.OTHER: ("其他", "Other"),
}

#: The subjects a revisit or a joint session handles.
SUBJECT_CASE: Final = "case"
SUBJECT_LEDGER_ITEM: Final = "ledger_item"


@dataclass(frozen=True)
class RevisitPolicy:
    """The ``revisit`` part of ``supervision.yaml``."""

    enabled: bool = True
    default_days: int = 30
    #: Days per category code; a code names its subclasses too (longest prefix wins).
    days: Mapping[str, int] = field(default_factory=dict)
    ledger_days: int = 30
    #: Revisits that fell due longer ago than this are not created (old history).
    catch_up_days: int = 30

    def days_for(self, category_code: str | None) -> int:
        """Days after sign-off until the revisit of a case of ``category_code``."""
        code = category_code or ""
        best = ""
        for prefix in self.days:
            if code.startswith(prefix) and len(prefix) > len(best):
                best = prefix
        return self.days[best] if best else self.default_days

    @property
    def shortest(self) -> int:
        """The fewest days any case waits (for the sweep's query)."""
        return min([self.default_days, *self.days.values()])

    @property
    def longest(self) -> int:
        """The most days any case waits."""
        return max([self.default_days, *self.days.values()])


def _days(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 3650:
        raise PolicyError(
            Msg("supervision.revisit.{name} must be 1 to 3650 days", name=name), field="revisit"
        )
    return value


def parse_revisit_policy(data: Mapping[str, Any] | None) -> RevisitPolicy:
    """Validate the ``revisit`` section (raises PolicyError naming the problem)."""
    raw = dict(data or {})
    days = raw.get("days") or {}
    if not isinstance(days, Mapping):
        raise PolicyError(
            "supervision.revisit.days must map category codes to days", field="revisit"
        )
    return RevisitPolicy(
        enabled=bool(raw.get("enabled", True)),
        default_days=_days(raw.get("default_days", 30), "default_days"),
        days={str(k): _days(v, f"days.{k}") for k, v in days.items()},
        ledger_days=_days(raw.get("ledger_days", 30), "ledger_days"),
        catch_up_days=_days(raw.get("catch_up_days", 30), "catch_up_days"),
    )


def revisit_due_on(signed_off_on: date, days: int) -> date:
    """The local day a revisit falls due: ``days`` calendar days after the sign-off day."""
    return signed_off_on + timedelta(days=days)


def should_create(due_on: date, today: date, catch_up_days: int) -> bool:
    """Whether the sweep creates a revisit due ``due_on`` today: once due, and not
    longer ago than the catch-up window."""
    return due_on <= today and (today - due_on).days <= catch_up_days
