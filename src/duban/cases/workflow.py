"""The closed loop as data: statuses, actions, roles and the table of allowed transitions.

The seven stages of the national practice (CJJ/T 106, GB/T 30428.8) —
信息收集 → 案卷建立 → 任务派遣 → 任务处理 → 处理反馈 → 核查结案 → 综合评价 — map onto the
statuses below. Nothing outside a use case sets a case's status, and every use case asks
:func:`check_action` first, so this table is the single statement of the workflow.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from duban.kernel.errors import IllegalTransition, Msg
from duban.kernel.pending import PendingKind
from duban.kernel.roles import Role


class CaseStatus(StrEnum):
    """Where a case stands in the closed loop."""

    REPORTED = "reported"  # 已上报: received, waiting for on-site verification
    VERIFIED = "verified"  # 已核实: confirmed real, waiting for filing
    FILED = "filed"  # 已立案: waiting for dispatch
    DISPATCHED = "dispatched"  # 已派遣: sent to the unit, its clock is running
    HANDLING = "handling"  # 处置中: the unit has accepted it
    RETURNED = "returned"  # 已回退: the unit says it is not theirs; waiting for re-dispatch
    PARKED = "parked"  # 已挂账: cannot be solved now; the clock is stopped
    AWAITING_CHECK = "awaiting_check"  # 待核查: the unit reported a fix with after-photos
    CHECKED = "checked"  # 核查通过: the fix was confirmed on site
    CLOSED = "closed"  # 已结案
    REJECTED = "rejected"  # 不予受理: not a case
    VOIDED = "voided"  # 已作废
    MERGED = "merged"  # 已合并: a duplicate of another case
    TRANSFERRED = "transferred"  # 已移交: handed over to a body outside 城管; waiting its answer
    AT_PLATFORM = "at_platform"  # 已下派: with a district or street platform (二级派遣)


class Action(StrEnum):
    """What a person (or the system) can do to a case. Values are the API's action names."""

    REPORT = "report"  # 上报 (creates the case)
    ASSIGN = "assign"  # 派发核实/核查任务
    VERIFY = "verify"  # 核实
    REJECT = "reject"  # 不予受理
    FILE = "file"  # 立案
    VOID = "void"  # 作废
    DISPATCH = "dispatch"  # 派遣
    ACCEPT = "accept"  # 签收
    RETURN = "return"  # 回退
    REQUEST_EXTENSION = "request_extension"  # 申请延期
    APPROVE_EXTENSION = "approve_extension"  # 批准延期
    DENY_EXTENSION = "deny_extension"  # 驳回延期
    REQUEST_PARK = "request_park"  # 申请挂账
    APPROVE_PARK = "approve_park"  # 批准挂账
    DENY_PARK = "deny_park"  # 驳回挂账
    RESUME = "resume"  # 挂账恢复
    FEEDBACK = "feedback"  # 处理反馈
    CHECK = "check"  # 核查
    CLOSE = "close"  # 结案
    REOPEN = "reopen"  # 重新打开
    MERGE = "merge"  # 合并为重复案件
    SUPERVISE = "supervise"  # 督办
    RATE = "rate"  # 评价: the citizen rates the result of a closed case
    NOT_FIXED = "not_fixed"  # 反映未解决: the citizen says a closed case is not fixed
    FIX_ON_SITE = "fix_on_site"  # 即查即改: the reporter fixed it on the spot (part of a report)
    CALLBACK = "callback"  # 回访: the operator records the caller's satisfaction on a return call
    TRANSFER = "transfer"  # 移交: hand the case over to a body outside 城管 (权责清单)
    TRANSFER_ACCEPT = "transfer_accept"  # 移交受理: the body accepts the hand-over
    TRANSFER_REFUSE = "transfer_refuse"  # 移交退回: the body refuses it, with its reason
    TRANSFER_DONE = "transfer_done"  # 移交办结: the body reports it done, with photos
    TRANSFER_OVERDUE = "transfer_overdue"  # 移交超期: the sweep marks a late answer (once)
    DISPATCH_TO_PLATFORM = "dispatch_to_platform"  # 下派: to a district or street platform
    PLATFORM_RETURN = "platform_return"  # 退回上级: the platform sends it back to the city


class Source(StrEnum):
    """Where a report came from (信息来源)."""

    PATROL = "patrol"  # 监督员巡查上报
    CITIZEN = "citizen"  # 市民随手拍
    HOTLINE = "hotline"  # 12345 / 12319 热线
    INSPECTION = "inspection"  # 第三方检查
    SUPERVISION = "supervision"  # 督查组
    SENSOR = "sensor"  # 视频 / 物联感知
    ROAD_OFFICE = "road_office"  # 马路办公: leaders working the street in person


TERMINAL: Final = frozenset(
    {CaseStatus.CLOSED, CaseStatus.REJECTED, CaseStatus.VOIDED, CaseStatus.MERGED}
)
OPEN: Final = frozenset(CaseStatus) - TERMINAL
#: Statuses in which the responsible unit's clock runs.
CLOCK_RUNNING: Final = frozenset({CaseStatus.DISPATCHED, CaseStatus.HANDLING})
#: Statuses in which a unit holds the case (the unit's inbox).
WITH_UNIT: Final = frozenset(
    {CaseStatus.DISPATCHED, CaseStatus.HANDLING, CaseStatus.PARKED, CaseStatus.AWAITING_CHECK}
)


@dataclass(frozen=True)
class Transition:
    """One row of the workflow table: in ``status``, ``roles`` may take the action."""

    target: CaseStatus
    roles: frozenset[Role]
    #: Where a failed outcome goes (``check``: 返工 back to the unit; ``verify``: 不属实).
    fail_target: CaseStatus | None = None
    #: Where the action goes when a district or street platform holds the case (二级派遣:
    #: a unit's 回退 goes back one level, to the platform that dispatched it).
    platform_target: CaseStatus | None = None


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


_UNIT = _roles(Role.HANDLER)
_DISPATCH = _roles(Role.DISPATCHER)
_INTAKE = _roles(Role.OPERATOR, Role.SHIFT_LEAD)
_SUPERVISE = _roles(Role.SUPERVISOR, Role.LEADER, Role.SHIFT_LEAD, Role.DISPATCHER, Role.SYSTEM)
_REOPEN = _roles(Role.SHIFT_LEAD, Role.SUPERVISOR)
#: A closed case is reopened by the system too: a failed revisit (回头看, 回潮) recorded by
#: a collector reopens it (duban.supervision.revisits).
_REOPEN_CLOSED = _roles(Role.SHIFT_LEAD, Role.SUPERVISOR, Role.SYSTEM)
#: Who may fix a problem on the spot while reporting it (即查即改 / 现场交办): people on
#: patrol — collectors, supervision groups, leaders.
ON_SITE = _roles(Role.COLLECTOR, Role.SUPERVISOR, Role.LEADER)

S = CaseStatus
A = Action

_table: dict[tuple[CaseStatus, Action], Transition] = {
    (S.REPORTED, A.ASSIGN): Transition(S.REPORTED, _INTAKE),
    # 核实: 属实 → verified; 不属实 (``passed: false`` with a reason) → turned down.
    (S.REPORTED, A.VERIFY): Transition(S.VERIFIED, _roles(Role.COLLECTOR), fail_target=S.REJECTED),
    (S.REPORTED, A.REJECT): Transition(S.REJECTED, _INTAKE),
    (S.REPORTED, A.VOID): Transition(S.VOIDED, _roles(Role.SHIFT_LEAD)),
    (S.VERIFIED, A.FILE): Transition(S.FILED, _roles(Role.SHIFT_LEAD)),
    (S.VERIFIED, A.VOID): Transition(S.VOIDED, _roles(Role.SHIFT_LEAD)),
    (S.FILED, A.VOID): Transition(S.VOIDED, _roles(Role.SHIFT_LEAD)),
    (S.FILED, A.DISPATCH): Transition(S.DISPATCHED, _DISPATCH),
    (S.RETURNED, A.DISPATCH): Transition(S.DISPATCHED, _DISPATCH),
    (S.DISPATCHED, A.ACCEPT): Transition(S.HANDLING, _UNIT),
    (S.AWAITING_CHECK, A.ASSIGN): Transition(S.AWAITING_CHECK, _INTAKE),
    (S.AWAITING_CHECK, A.CHECK): Transition(
        S.CHECKED, _roles(Role.COLLECTOR), fail_target=S.HANDLING
    ),
    (S.CHECKED, A.CLOSE): Transition(S.CLOSED, _roles(Role.SHIFT_LEAD)),
    (S.HANDLING, A.FEEDBACK): Transition(S.AWAITING_CHECK, _UNIT),
    (S.PARKED, A.RESUME): Transition(S.HANDLING, _DISPATCH),
    (S.CLOSED, A.REOPEN): Transition(S.DISPATCHED, _REOPEN_CLOSED),
    (S.VOIDED, A.REOPEN): Transition(S.VERIFIED, _REOPEN),
    (S.REJECTED, A.REOPEN): Transition(S.REPORTED, _REOPEN),
}
for _status in (S.DISPATCHED, S.HANDLING):
    _table[(_status, A.RETURN)] = Transition(S.RETURNED, _UNIT, platform_target=S.AT_PLATFORM)
    _table[(_status, A.REQUEST_EXTENSION)] = Transition(_status, _UNIT)
    _table[(_status, A.APPROVE_EXTENSION)] = Transition(_status, _DISPATCH)
    _table[(_status, A.DENY_EXTENSION)] = Transition(_status, _DISPATCH)
    _table[(_status, A.REQUEST_PARK)] = Transition(_status, _UNIT)
    _table[(_status, A.APPROVE_PARK)] = Transition(S.PARKED, _DISPATCH)
    _table[(_status, A.DENY_PARK)] = Transition(_status, _DISPATCH)
for _status in (S.REPORTED, S.VERIFIED, S.FILED):
    _table[(_status, A.MERGE)] = Transition(S.MERGED, _INTAKE)
for _status in OPEN:
    _table[(_status, A.SUPERVISE)] = Transition(_status, _SUPERVISE)
# The reporting citizen's say on a closed case: recorded, but the case stays closed; a
# "not fixed" goes to the supervision centre, which may reopen it.
_table[(S.CLOSED, A.RATE)] = Transition(S.CLOSED, _roles(Role.CITIZEN))
_table[(S.CLOSED, A.NOT_FIXED)] = Transition(S.CLOSED, _roles(Role.CITIZEN))
# 即查即改: a report that says the problem was fixed on the spot, with after-photos. The
# fixer was on site, so the fix counts as checked, and the case closes at once
# (CLOSES_AT_ONCE) in the report's unit of work: it is never filed nor dispatched.
for _status in (S.REPORTED, S.VERIFIED):
    _table[(_status, A.FIX_ON_SITE)] = Transition(S.CHECKED, ON_SITE)
# 移交 (权责清单): a matter that belongs to a body outside 城管 (交警, 燃气, 电力, …) is handed
# over to it from the dispatcher's queue (where a dispatch could go). No unit of ours holds
# it and no unit's clock runs; the body answers through a signed link (the answers are
# taken by the SYSTEM actor, the event's payload says "via": "link") or the dispatcher
# records its answer. Refused → back to the dispatcher's queue (returned) with the reason;
# done → a collector checks it on site like a unit's feedback (a failed check sends it back
# to the dispatcher's queue, as no unit of ours holds it). Filing a matter the list marks
# "at once" (a gas leak) hands it over in the same unit of work, as the SYSTEM actor.
_HANDOVER = _roles(Role.DISPATCHER, Role.SYSTEM)
for _status in (S.FILED, S.RETURNED):
    _table[(_status, A.TRANSFER)] = Transition(S.TRANSFERRED, _HANDOVER)
_table[(S.TRANSFERRED, A.TRANSFER_ACCEPT)] = Transition(S.TRANSFERRED, _HANDOVER)
_table[(S.TRANSFERRED, A.TRANSFER_REFUSE)] = Transition(S.RETURNED, _HANDOVER)
_table[(S.TRANSFERRED, A.TRANSFER_DONE)] = Transition(S.AWAITING_CHECK, _HANDOVER)
_table[(S.TRANSFERRED, A.TRANSFER_OVERDUE)] = Transition(S.TRANSFERRED, _roles(Role.SYSTEM))
# 二级派遣 (policy ``dispatch: {levels: 2}``): the city's dispatcher sends a filed or
# returned case down to a district or street platform (下派); the platform's own dispatcher
# (a dispatcher of that region) dispatches it to a unit of its own, or sends it back up
# with a reason (退回上级). A unit's 回退 of a case a platform dispatched goes back to that
# platform (``platform_target`` above). Which dispatcher is at which level is checked by
# the use case (the actor's region against the case's platform), not by this table.
for _status in (S.FILED, S.RETURNED):
    _table[(_status, A.DISPATCH_TO_PLATFORM)] = Transition(S.AT_PLATFORM, _DISPATCH)
_table[(S.AT_PLATFORM, A.DISPATCH)] = Transition(S.DISPATCHED, _DISPATCH)
_table[(S.AT_PLATFORM, A.PLATFORM_RETURN)] = Transition(S.RETURNED, _DISPATCH)
# 回访: the hotline calls the reporter back once a case is closed and records how satisfied
# they are (it feeds 满意率 beside citizens' own ratings); the case stays closed.
_table[(S.CLOSED, A.CALLBACK)] = Transition(S.CLOSED, _INTAKE)

TRANSITIONS: Final[Mapping[tuple[CaseStatus, Action], Transition]] = _table

#: Actions taken only as part of a new report (``POST /cases``), never on their own: not
#: offered on a case and refused by the action endpoint.
INTAKE_ACTIONS: Final = frozenset({A.REPORT, A.FIX_ON_SITE})
#: Actions after which the case closes at once, by the same actor, in the same unit of
#: work (an on-the-spot fix needs no shift lead to close it: nothing was dispatched).
CLOSES_AT_ONCE: Final = frozenset({A.FIX_ON_SITE})

#: The requests a unit makes and the centre decides (:mod:`duban.kernel.pending`): one of
#: each kind waits at a time.
EXTENSION: Final = PendingKind(
    label="extension request",
    article="an",
    ask=A.REQUEST_EXTENSION.value,
    approve=A.APPROVE_EXTENSION.value,
    deny=A.DENY_EXTENSION.value,
    decider=Role.DISPATCHER.value,
)
PARK: Final = PendingKind(
    label="parking request",
    article="a",
    ask=A.REQUEST_PARK.value,
    approve=A.APPROVE_PARK.value,
    deny=A.DENY_PARK.value,
    decider=Role.DISPATCHER.value,
)


# Every case shown to anyone lists what they may do with it: worked out once.
_ALLOWED: Final[Mapping[tuple[CaseStatus, Role], tuple[Action, ...]]] = {
    (status, role): tuple(
        action
        for action in Action
        if action not in INTAKE_ACTIONS
        and (rule := TRANSITIONS.get((status, action))) is not None
        and role in rule.roles
    )
    for status in CaseStatus
    for role in Role
}


def allowed_actions(status: CaseStatus, role: Role) -> list[Action]:
    """The actions ``role`` may take on a case in ``status``, in declaration order."""
    return list(_ALLOWED[(status, role)])


def check_action(status: CaseStatus, action: Action, role: Role) -> Transition:
    """Return the table row for ``action`` or raise :class:`IllegalTransition`.

    The error names the status, the action and the role, and says which of them is wrong.
    """
    rule = TRANSITIONS.get((status, action))
    if rule is None:
        raise IllegalTransition(
            status=status.value,
            action=action.value,
            role=role.value,
            reason=Msg(
                "a case in status '{status}' ({value}) cannot be '{action}'",
                status=status.value,
                value=STATUS_LABELS[status][0],
                action=action.value,
            ),
        )
    if role not in rule.roles:
        allowed = ", ".join(sorted(r.value for r in rule.roles))
        raise IllegalTransition(
            status=status.value,
            action=action.value,
            role=role.value,
            reason=Msg("only {roles} may do this", roles=allowed),
        )
    return rule


#: status → (中文, English, colour) — the one mapping of labels; identifiers stay English.
STATUS_LABELS: Final[Mapping[CaseStatus, tuple[str, str, str]]] = {
    S.REPORTED: ("已上报", "Reported", "gray"),
    S.VERIFIED: ("已核实", "Verified", "blue"),
    S.FILED: ("已立案", "Filed", "indigo"),
    S.DISPATCHED: ("已派遣", "Dispatched", "purple"),
    S.HANDLING: ("处置中", "Handling", "orange"),
    S.RETURNED: ("已回退", "Returned", "pink"),
    S.PARKED: ("已挂账", "Parked", "brown"),
    S.AWAITING_CHECK: ("待核查", "Awaiting check", "teal"),
    S.CHECKED: ("核查通过", "Checked", "cyan"),
    S.CLOSED: ("已结案", "Closed", "green"),
    S.REJECTED: ("不予受理", "Rejected", "black"),
    S.VOIDED: ("已作废", "Voided", "black"),
    S.MERGED: ("已合并", "Merged as duplicate", "black"),
    S.TRANSFERRED: ("已移交", "Handed over", "olive"),
    S.AT_PLATFORM: ("已下派", "With a district or street platform", "violet"),
}

ACTION_LABELS: Final[Mapping[Action, tuple[str, str]]] = {
    A.REPORT: ("上报", "Report"),
    A.ASSIGN: ("派发任务", "Assign task"),
    A.VERIFY: ("核实", "Verify"),
    A.REJECT: ("不予受理", "Reject"),
    A.FILE: ("立案", "File"),
    A.VOID: ("作废", "Void"),
    A.DISPATCH: ("派遣", "Dispatch"),
    A.ACCEPT: ("签收", "Accept"),
    A.RETURN: ("回退", "Return"),
    A.REQUEST_EXTENSION: ("申请延期", "Request extension"),
    A.APPROVE_EXTENSION: ("批准延期", "Approve extension"),
    A.DENY_EXTENSION: ("驳回延期", "Deny extension"),
    A.REQUEST_PARK: ("申请挂账", "Request parking"),
    A.APPROVE_PARK: ("批准挂账", "Approve parking"),
    A.DENY_PARK: ("驳回挂账", "Deny parking"),
    A.RESUME: ("挂账恢复", "Resume"),
    A.FEEDBACK: ("处理反馈", "Report fix"),
    A.CHECK: ("核查", "Check"),
    A.CLOSE: ("结案", "Close"),
    A.REOPEN: ("重新打开", "Reopen"),
    A.MERGE: ("合并", "Merge as duplicate"),
    A.SUPERVISE: ("督办", "Supervise"),
    A.RATE: ("评价", "Rate"),
    A.NOT_FIXED: ("反映未解决", "Not fixed"),
    A.FIX_ON_SITE: ("即查即改", "Fixed on the spot"),
    A.CALLBACK: ("回访", "Call back"),
    A.TRANSFER: ("移交", "Hand over"),
    A.TRANSFER_ACCEPT: ("移交受理", "Body accepted"),
    A.TRANSFER_REFUSE: ("移交退回", "Body refused"),
    A.TRANSFER_DONE: ("移交办结", "Body reports done"),
    A.TRANSFER_OVERDUE: ("移交超期", "Hand-over answer overdue"),
    A.DISPATCH_TO_PLATFORM: ("下派", "Send to a platform"),
    A.PLATFORM_RETURN: ("退回上级", "Return to the city"),
}


SOURCE_LABELS: Final[Mapping[Source, tuple[str, str]]] = {
    Source.PATROL: ("监督员上报", "Patrol"),
    Source.CITIZEN: ("市民随手拍", "Citizen report"),
    Source.HOTLINE: ("热线", "Hotline"),
    Source.INSPECTION: ("第三方检查", "Third-party inspection"),
    Source.SUPERVISION: ("督查组", "Supervision group"),
    Source.SENSOR: ("感知设备", "Sensor"),
    Source.ROAD_OFFICE: ("马路办公", "Leaders on the street"),
}


class Rating(StrEnum):
    """A citizen's rating of a closed case (满意度评价)."""

    SATISFIED = "satisfied"  # 满意
    BASICALLY_SATISFIED = "basically_satisfied"  # 基本满意
    UNSATISFIED = "unsatisfied"  # 不满意


RATING_LABELS: Final[Mapping[Rating, tuple[str, str]]] = {
    Rating.SATISFIED: ("满意", "Satisfied"),
    Rating.BASICALLY_SATISFIED: ("基本满意", "Basically satisfied"),
    Rating.UNSATISFIED: ("不满意", "Unsatisfied"),
}

#: Actions whose note is written for the public (the reporter): why a report was turned
#: down, and what citizens said themselves. Every other note — a dispatcher's
#: instructions, a return, a failed check, an extension or parking reason, 督办 — is
#: staff talking to staff, and neither the public timeline nor Open311 shows it.
PUBLIC_NOTE_ACTIONS: Final[frozenset[Action]] = frozenset(
    {Action.REJECT, Action.VOID, Action.RATE, Action.NOT_FIXED}
)

#: Which sources each role may report from (SELF_VERIFIED_SOURCES below skip 核实).
REPORT_SOURCES: Final[Mapping[Role, frozenset[Source]]] = {
    Role.CITIZEN: frozenset({Source.CITIZEN}),
    Role.COLLECTOR: frozenset({Source.PATROL}),
    Role.OPERATOR: frozenset(
        {Source.HOTLINE, Source.CITIZEN, Source.INSPECTION, Source.SUPERVISION, Source.SENSOR}
    ),
    Role.SHIFT_LEAD: frozenset(Source),
    Role.SUPERVISOR: frozenset({Source.SUPERVISION, Source.INSPECTION}),
    # 分包领导, 路长: leaders of grids and road segments report from their patrols, and
    # from 马路办公 (leaders holding office on the street).
    Role.LEADER: frozenset({Source.PATROL, Source.ROAD_OFFICE}),
    Role.SYSTEM: frozenset({Source.SENSOR, Source.INSPECTION}),
    Role.ADMIN: frozenset(Source),
}
#: Reports whose reporter saw the problem on site: a collector's patrol, the supervision
#: group's own list (督查组, filed without a collector's 核实) and 马路办公.
SELF_VERIFIED_SOURCES: Final = frozenset({Source.PATROL, Source.SUPERVISION, Source.ROAD_OFFICE})


def initial_status(source: Source) -> CaseStatus:
    """Reports made on site (patrol, 督查组, 马路办公) count as verified; others need 核实."""
    return CaseStatus.VERIFIED if source in SELF_VERIFIED_SOURCES else CaseStatus.REPORTED


#: The step whose own timer runs in each status (the unit's clock covers the rest).
STEP_OF_STATUS: Final[Mapping[CaseStatus, str]] = {
    S.REPORTED: "verify",
    S.VERIFIED: "file",
    S.FILED: "dispatch",
    S.RETURNED: "dispatch",
    S.AT_PLATFORM: "sub_dispatch",  # 二级派遣: the platform's own step limit
    S.AWAITING_CHECK: "check",
    S.CHECKED: "close",
}
#: The actions of a hand-over (移交) and its answers: the handover capability keeps the
#: hand-over's own record beside the case's events.
HANDOVER_ACTIONS: Final = frozenset(
    {A.TRANSFER, A.TRANSFER_ACCEPT, A.TRANSFER_REFUSE, A.TRANSFER_DONE, A.TRANSFER_OVERDUE}
)
