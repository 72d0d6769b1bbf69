"""Pure rules of supervision (督办): problem and order states, numbers, selection rules
and the escalation ladder. No I/O, no clock."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from duban.kernel.errors import BadSetting, InvalidInput, Msg, PolicyError, cause
from duban.supervision.campaign_rules import DEFAULT_KINDS, CampaignKind, parse_kinds


class ProblemStatus(StrEnum):
    """Where one problem of an order stands."""

    OPEN = "open"  # 待答复
    ANSWERED = "answered"  # 已答复，待审核
    SENT_BACK = "sent_back"  # 退回重办
    ACCEPTED = "accepted"  # 已通过


class OrderStatus(StrEnum):
    """An order's state, rolled up from its problems."""

    ISSUED = "issued"  # 已下发
    IN_PROGRESS = "in_progress"  # 办理中
    CLOSED = "closed"  # 已办结


PROBLEM_LABELS: Final[Mapping[ProblemStatus, tuple[str, str]]] = {
    ProblemStatus.OPEN: ("待答复", "Awaiting reply"),
    ProblemStatus.ANSWERED: ("待审核", "Answered"),
    ProblemStatus.SENT_BACK: ("退回重办", "Sent back"),
    ProblemStatus.ACCEPTED: ("已通过", "Accepted"),
}
ORDER_LABELS: Final[Mapping[OrderStatus, tuple[str, str]]] = {
    OrderStatus.ISSUED: ("已下发", "Issued"),
    OrderStatus.IN_PROGRESS: ("办理中", "In progress"),
    OrderStatus.CLOSED: ("已办结", "Closed"),
}


def roll_up(statuses: Iterable[ProblemStatus | str]) -> OrderStatus:
    """The order's state from its problems': closed when every one is accepted, issued
    while none has been answered, in progress otherwise."""
    values = [ProblemStatus(s) for s in statuses]
    if values and all(s is ProblemStatus.ACCEPTED for s in values):
        return OrderStatus.CLOSED
    if all(s is ProblemStatus.OPEN for s in values):
        return OrderStatus.ISSUED
    return OrderStatus.IN_PROGRESS


def can_answer(status: ProblemStatus | str) -> bool:
    """A unit may answer a problem not yet answered, or sent back."""
    return ProblemStatus(status) in (ProblemStatus.OPEN, ProblemStatus.SENT_BACK)


def can_review(status: ProblemStatus | str) -> bool:
    """A supervisor accepts or sends back only an answered problem."""
    return ProblemStatus(status) is ProblemStatus.ANSWERED


def counter_name(series: str, year: int) -> str:
    """The counter row numbering the orders of one series and year."""
    return f"supervision:{series}:{year}"


def order_number(series: str, year: int, sequence: int) -> str:
    """``督查通知单〔2026〕第12期``: series, the year in 六角括号, the issue."""
    return f"{series}〔{year}〕第{sequence}期"


# --------------------------------------------------------------------------- selection


class RuleKind(StrEnum):
    """How a saved rule picks cases."""

    OVERDUE = "overdue"  # 超期 N 个工作日以上
    REWORKED = "reworked"  # 返工 N 次及以上
    HOTSPOT = "hotspot"  # 同一地点 D 天内 N 次及以上上报
    FLAGGED = "flagged"  # 已督办


#: Each kind's parameters and their defaults.
RULE_PARAMS: Final[Mapping[RuleKind, Mapping[str, int]]] = {
    RuleKind.OVERDUE: {"work_days": 0},
    RuleKind.REWORKED: {"times": 2},
    RuleKind.HOTSPOT: {"reports": 3, "days": 30},
    RuleKind.FLAGGED: {},
}
_MINIMUM: Final[Mapping[str, int]] = {"work_days": 0, "times": 1, "reports": 2, "days": 1}


@dataclass(frozen=True)
class SelectionRule:
    """A rule that picks cases for an order, as data (``kind`` and its parameters)."""

    kind: RuleKind
    params: Mapping[str, int]

    @classmethod
    def parse(cls, kind: object, params: Mapping[str, Any] | None) -> SelectionRule:
        """Validate ``kind`` and ``params`` (raises InvalidInput naming the field)."""
        try:
            rule_kind = RuleKind(str(kind))
        except ValueError as err:
            raise InvalidInput(
                "the rule kind must be overdue, reworked, hotspot or flagged",
                field="rule.kind",
                kind=str(kind)[:40],
            ) from err
        given = dict(params or {})
        allowed = RULE_PARAMS[rule_kind]
        unknown = sorted(set(given) - set(allowed))
        if unknown:
            raise InvalidInput(
                "the rule has a parameter its kind does not take",
                field=f"rule.params.{unknown[0]}",
            )
        out: dict[str, int] = {}
        for name, default in allowed.items():
            value = given.get(name, default)
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or not _MINIMUM[name] <= value <= 3650
            ):
                raise InvalidInput(
                    "a rule parameter must be a whole number in its range",
                    field=f"rule.params.{name}",
                    minimum=_MINIMUM[name],
                    maximum=3650,
                )
            out[name] = value
        return cls(rule_kind, out)


# --------------------------------------------------------------------------- escalation


class LadderStep(StrEnum):
    """The steps of the escalation ladder."""

    REMIND = "remind"  # 催办提醒
    NOTIFY = "notify"  # 通报
    ESCALATE = "escalate"  # 提请领导督办


STEP_LABELS: Final[Mapping[LadderStep, tuple[str, str]]] = {
    LadderStep.REMIND: ("催办提醒", "Reminder"),
    LadderStep.NOTIFY: ("通报", "Public notice"),
    LadderStep.ESCALATE: ("提请领导督办", "Escalated to a leader"),
}


@dataclass(frozen=True)
class Rung:
    """One step of the ladder, due ``after_work_days`` working days after the deadline."""

    step: LadderStep
    after_work_days: int


@dataclass(frozen=True)
class SupervisionPolicy:
    """The parsed ``supervision.yaml``."""

    issuer: str
    series: str
    reply_work_days: int
    ladder: tuple[Rung, ...]
    campaign_kinds: tuple[CampaignKind, ...] = DEFAULT_KINDS


def _whole(setting: str, value: Any, must_be: Msg) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as err:
        raise BadSetting.wrong(setting, must_be, value) from err


def _rung(setting: str, data: Any) -> Rung:
    """One step of the ladder (``{step, after_work_days}``), refused naming ``setting``."""
    steps = Msg("one of {choices}", choices=", ".join(step.value for step in LadderStep))
    if not isinstance(data, Mapping):
        raise BadSetting.wrong(setting, Msg("a mapping of settings"), data)
    if "step" not in data:
        raise BadSetting.missing(f"{setting}.step", steps)
    try:
        step = LadderStep(str(data["step"]))
    except ValueError as err:
        raise BadSetting.wrong(f"{setting}.step", steps, data["step"]) from err
    return Rung(
        step,
        _whole(
            f"{setting}.after_work_days",
            data.get("after_work_days", 0),
            Msg("a whole number, 0 or more"),
        ),
    )


def parse_policy(data: Mapping[str, Any]) -> SupervisionPolicy:
    """Validate the supervision policy (raises PolicyError naming the problem)."""
    try:
        ladder = tuple(
            _rung(f"supervision.ladder[{i}]", r) for i, r in enumerate(data.get("ladder") or ())
        )
        reply = _whole(
            "supervision.reply_work_days",
            data.get("reply_work_days", 5),
            Msg("a whole number greater than 0"),
        )
    except BadSetting as err:
        raise PolicyError(
            Msg("supervision policy: {err}", err=err.text),
            field="supervision",
            setting=err.setting,
            cause=str(err),
        ) from err
    except (KeyError, ValueError, TypeError, AttributeError) as err:
        raise PolicyError(
            Msg("supervision policy: {err}", err=cause(err)), field="supervision", cause=str(err)
        ) from err
    if reply < 1:
        raise PolicyError("supervision.reply_work_days must be 1 or more", field="supervision")
    days = [r.after_work_days for r in ladder]
    if any(d < 0 for d in days) or days != sorted(days):
        raise PolicyError(
            "supervision.ladder: steps must come in order, 0 or more days after the deadline",
            field="supervision",
        )
    if len({r.step for r in ladder}) != len(ladder):
        raise PolicyError("supervision.ladder: a step appears twice", field="supervision")
    return SupervisionPolicy(
        issuer=str(data.get("issuer") or "城市管理督查组"),
        series=str(data.get("series") or "督查通知单"),
        reply_work_days=reply,
        ladder=ladder,
        campaign_kinds=parse_kinds(data.get("campaign_kinds")),
    )


def due_steps(
    ladder: Iterable[Rung], workdays_past_due: float | None, done: Iterable[str]
) -> list[LadderStep]:
    """The ladder steps to fire now: those whose time has come (``workdays_past_due``
    working days since the deadline; None before it) and that have not fired yet."""
    if workdays_past_due is None:
        return []
    fired = set(done)
    return [
        r.step
        for r in ladder
        if r.step.value not in fired and workdays_past_due >= r.after_work_days
    ]
