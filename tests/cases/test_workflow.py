"""The transition table itself (STYLE.md B3): reachability, exits, handlers, labels, errors."""

from __future__ import annotations

from collections import deque

import pytest

from duban.cases.actions import _HANDLERS
from duban.cases.workflow import (
    ACTION_LABELS,
    CLOCK_RUNNING,
    CLOSES_AT_ONCE,
    HANDOVER_ACTIONS,
    INTAKE_ACTIONS,
    ON_SITE,
    OPEN,
    REPORT_SOURCES,
    SOURCE_LABELS,
    STATUS_LABELS,
    STEP_OF_STATUS,
    TERMINAL,
    TRANSITIONS,
    WITH_UNIT,
    Action,
    CaseStatus,
    Source,
    allowed_actions,
    check_action,
    initial_status,
)
from duban.kernel.errors import IllegalTransition
from duban.kernel.roles import ROLE_LABELS, Role

S = CaseStatus
A = Action

INITIAL = frozenset(initial_status(source) for source in Source)


def _targets(status: CaseStatus) -> set[CaseStatus]:
    """Every status one action leads to from ``status`` (a failed check included)."""
    found: set[CaseStatus] = set()
    for (source, _action), rule in TRANSITIONS.items():
        if source == status:
            found.add(rule.target)
            if rule.fail_target is not None:
                found.add(rule.fail_target)
    return found


def _reachable(start: frozenset[CaseStatus]) -> set[CaseStatus]:
    seen = set(start)
    queue = deque(start)
    while queue:
        for target in _targets(queue.popleft()) - seen:
            seen.add(target)
            queue.append(target)
    return seen


def test_reports_made_on_site_start_verified_and_the_rest_wait_for_verify() -> None:
    on_site = {Source.PATROL, Source.SUPERVISION, Source.ROAD_OFFICE}
    assert {initial_status(s) for s in on_site} == {S.VERIFIED}
    assert {initial_status(s) for s in Source if s not in on_site} == {S.REPORTED}
    assert {S.REPORTED, S.VERIFIED} == INITIAL


def test_every_status_is_reachable_from_the_initial_statuses() -> None:
    assert _reachable(INITIAL) == set(CaseStatus)


def test_closing_is_reachable_from_every_open_status() -> None:
    for status in OPEN:
        assert S.CLOSED in _reachable(frozenset({status})), status


def test_terminal_statuses_exit_only_by_reopen_and_merged_never() -> None:
    assert frozenset({S.CLOSED, S.REJECTED, S.VOIDED, S.MERGED}) == TERMINAL
    exits = {
        (status, action): rule.target
        for (status, action), rule in TRANSITIONS.items()
        if status in TERMINAL and (rule.target != status or rule.fail_target is not None)
    }
    assert exits == {
        (S.CLOSED, A.REOPEN): S.DISPATCHED,
        (S.VOIDED, A.REOPEN): S.VERIFIED,
        (S.REJECTED, A.REOPEN): S.REPORTED,
    }
    assert not any(status == S.MERGED for status, _ in TRANSITIONS)


def test_reopen_is_only_for_terminal_statuses() -> None:
    assert {status for status, action in TRANSITIONS if action == A.REOPEN} <= TERMINAL


def test_every_open_status_has_a_way_forward_and_can_be_supervised() -> None:
    for status in OPEN:
        assert _targets(status) - {status}, f"{status} is a dead end"
        rule = TRANSITIONS[(status, A.SUPERVISE)]
        assert rule.target == status  # 督办 is a flag, not a status
        assert Role.SYSTEM in rule.roles  # the deadline sweep raises it


def test_the_system_may_only_supervise_reopen_and_carry_hand_overs() -> None:
    for (status, action), rule in TRANSITIONS.items():
        if Role.SYSTEM in rule.roles:
            # 督办 by the sweep; 回潮: a failed revisit (回头看) reopens a closed case; 移交:
            # a gas leak handed over at filing, a body's answer through its signed link and
            # the sweep's mark of a late answer.
            assert (
                action == A.SUPERVISE
                or (status, action) == (S.CLOSED, A.REOPEN)
                or action in HANDOVER_ACTIONS
            )


def test_a_failed_check_goes_back_to_the_unit_and_a_failed_verify_turns_the_report_down() -> None:
    failing = {key: rule.fail_target for key, rule in TRANSITIONS.items() if rule.fail_target}
    assert failing == {
        (S.AWAITING_CHECK, A.CHECK): S.HANDLING,
        (S.REPORTED, A.VERIFY): S.REJECTED,
    }
    assert TRANSITIONS[(S.AWAITING_CHECK, A.CHECK)].target == S.CHECKED


def test_the_happy_path_is_in_the_table() -> None:
    path = [
        (S.REPORTED, A.VERIFY, Role.COLLECTOR, S.VERIFIED),
        (S.VERIFIED, A.FILE, Role.SHIFT_LEAD, S.FILED),
        (S.FILED, A.DISPATCH, Role.DISPATCHER, S.DISPATCHED),
        (S.DISPATCHED, A.ACCEPT, Role.HANDLER, S.HANDLING),
        (S.HANDLING, A.FEEDBACK, Role.HANDLER, S.AWAITING_CHECK),
        (S.AWAITING_CHECK, A.CHECK, Role.COLLECTOR, S.CHECKED),
        (S.CHECKED, A.CLOSE, Role.SHIFT_LEAD, S.CLOSED),
    ]
    for status, action, role, target in path:
        assert check_action(status, action, role).target == target


def test_side_paths_keep_or_move_the_status_as_designed() -> None:
    for status in (S.DISPATCHED, S.HANDLING):
        assert TRANSITIONS[(status, A.RETURN)].target == S.RETURNED
        assert TRANSITIONS[(status, A.APPROVE_PARK)].target == S.PARKED
        for action in (
            A.REQUEST_EXTENSION,
            A.APPROVE_EXTENSION,
            A.DENY_EXTENSION,
            A.REQUEST_PARK,
            A.DENY_PARK,
        ):
            assert TRANSITIONS[(status, action)].target == status
    assert TRANSITIONS[(S.RETURNED, A.DISPATCH)].target == S.DISPATCHED
    assert TRANSITIONS[(S.PARKED, A.RESUME)].target == S.HANDLING
    assert {s for s, a in TRANSITIONS if a == A.MERGE} == {S.REPORTED, S.VERIFIED, S.FILED}
    assert {s for s, a in TRANSITIONS if a == A.ASSIGN} == {S.REPORTED, S.AWAITING_CHECK}


def test_unit_actions_belong_to_handlers_and_approvals_to_dispatchers() -> None:
    for (_status, action), rule in TRANSITIONS.items():
        if action in (A.ACCEPT, A.RETURN, A.REQUEST_EXTENSION, A.REQUEST_PARK, A.FEEDBACK):
            assert rule.roles == {Role.HANDLER}, action
        if action in (
            A.DISPATCH,
            A.APPROVE_EXTENSION,
            A.DENY_EXTENSION,
            A.APPROVE_PARK,
            A.DENY_PARK,
            A.RESUME,
        ):
            assert rule.roles == {Role.DISPATCHER}, action


def test_citizens_and_admins_cannot_move_a_case() -> None:
    for (status, _action), rule in TRANSITIONS.items():
        # A citizen may only rate or say "not fixed", which leaves the case where it is.
        assert Role.CITIZEN not in rule.roles or rule.target == status
        assert Role.ADMIN not in rule.roles


def test_every_table_row_has_a_use_case_handler() -> None:
    actions_in_table = {action for _status, action in TRANSITIONS}
    assert actions_in_table <= set(_HANDLERS)
    # ... and no handler is unreachable from the table; report creates the case itself.
    assert set(_HANDLERS) == actions_in_table
    assert set(Action) - actions_in_table == {A.REPORT}


def test_every_status_action_role_and_source_has_a_label() -> None:
    assert set(STATUS_LABELS) == set(CaseStatus)
    assert set(ACTION_LABELS) == set(Action)
    assert set(ROLE_LABELS) == set(Role)
    assert set(SOURCE_LABELS) == set(Source)
    for labels in (STATUS_LABELS, ACTION_LABELS, ROLE_LABELS, SOURCE_LABELS):
        for key, (zh, en, *_colour) in labels.items():
            assert zh.strip(), key
            assert en.strip(), key
            assert zh != en, key
    assert STATUS_LABELS[S.CLOSED][0] == "已结案"
    assert ACTION_LABELS[A.SUPERVISE][0] == "督办"


def test_status_sets_are_consistent() -> None:
    assert set(CaseStatus) == OPEN | TERMINAL
    assert not OPEN & TERMINAL
    assert CLOCK_RUNNING <= WITH_UNIT <= OPEN
    assert set(STEP_OF_STATUS) <= OPEN
    assert not set(STEP_OF_STATUS) & CLOCK_RUNNING  # the unit's clock covers those


def test_report_sources_let_collectors_patrol_and_citizens_photograph() -> None:
    assert REPORT_SOURCES[Role.COLLECTOR] == {Source.PATROL}
    assert REPORT_SOURCES[Role.CITIZEN] == {Source.CITIZEN}
    assert Source.PATROL not in REPORT_SOURCES[Role.OPERATOR]
    assert Role.HANDLER not in REPORT_SOURCES


def test_an_action_wrong_for_the_status_names_status_action_and_role() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_action(S.CLOSED, A.DISPATCH, Role.DISPATCHER)
    err = caught.value
    assert (err.status, err.action, err.role) == ("closed", "dispatch", "dispatcher")
    assert err.detail == {"status": "closed", "action": "dispatch", "role": "dispatcher"}
    text = str(err)
    for word in ("'closed'", "'dispatch'", "'dispatcher'", "已结案"):
        assert word in text
    assert err.code == "illegal_transition"


def test_an_action_wrong_for_the_role_names_who_may_do_it() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_action(S.FILED, A.DISPATCH, Role.CITIZEN)
    err = caught.value
    assert (err.status, err.action, err.role) == ("filed", "dispatch", "citizen")
    assert "only dispatcher may do this" in str(err)
    with pytest.raises(IllegalTransition, match="only operator, shift_lead may do this"):
        check_action(S.REPORTED, A.REJECT, Role.COLLECTOR)


@pytest.mark.parametrize(
    ("status", "role", "expected"),
    [
        (S.REPORTED, Role.OPERATOR, [A.ASSIGN, A.REJECT, A.MERGE]),
        (S.REPORTED, Role.SHIFT_LEAD, [A.ASSIGN, A.REJECT, A.VOID, A.MERGE, A.SUPERVISE]),
        (S.REPORTED, Role.COLLECTOR, [A.VERIFY]),
        (S.FILED, Role.DISPATCHER, [A.DISPATCH, A.SUPERVISE, A.TRANSFER, A.DISPATCH_TO_PLATFORM]),
        (S.AT_PLATFORM, Role.DISPATCHER, [A.DISPATCH, A.SUPERVISE, A.PLATFORM_RETURN]),
        (S.AT_PLATFORM, Role.HANDLER, []),
        (S.HANDLING, Role.HANDLER, [A.RETURN, A.REQUEST_EXTENSION, A.REQUEST_PARK, A.FEEDBACK]),
        (
            S.DISPATCHED,
            Role.DISPATCHER,
            [A.APPROVE_EXTENSION, A.DENY_EXTENSION, A.APPROVE_PARK, A.DENY_PARK, A.SUPERVISE],
        ),
        (S.PARKED, Role.DISPATCHER, [A.RESUME, A.SUPERVISE]),
        (S.AWAITING_CHECK, Role.COLLECTOR, [A.CHECK]),
        (S.CHECKED, Role.SHIFT_LEAD, [A.CLOSE, A.SUPERVISE]),
        (S.CLOSED, Role.SUPERVISOR, [A.REOPEN]),
        (S.CLOSED, Role.CITIZEN, [A.RATE, A.NOT_FIXED]),
        (S.MERGED, Role.SHIFT_LEAD, []),
        (S.HANDLING, Role.SYSTEM, [A.SUPERVISE]),
    ],
)
def test_allowed_actions(status: CaseStatus, role: Role, expected: list[Action]) -> None:
    assert allowed_actions(status, role) == expected


def test_allowed_actions_agrees_with_check_action_everywhere() -> None:
    for status in CaseStatus:
        for role in Role:
            allowed = allowed_actions(status, role)
            for action in Action:
                if action in INTAKE_ACTIONS:
                    assert action not in allowed  # part of a report, never offered on a case
                elif action in allowed:
                    assert check_action(status, action, role) is TRANSITIONS[(status, action)]
                else:
                    with pytest.raises(IllegalTransition):
                        check_action(status, action, role)


def test_a_fix_on_the_spot_is_part_of_a_report_and_closes_at_once() -> None:
    rows = {key: rule for key, rule in TRANSITIONS.items() if key[1] == A.FIX_ON_SITE}
    # From what a report starts as, to checked (the fixer checked it on site)...
    assert {status for status, _a in rows} == INITIAL
    for rule in rows.values():
        assert rule.target == S.CHECKED
        assert rule.roles == ON_SITE == {Role.COLLECTOR, Role.SUPERVISOR, Role.LEADER}
    # ... and closed at once: checked cases close in one step.
    assert A.FIX_ON_SITE in CLOSES_AT_ONCE & INTAKE_ACTIONS
    assert TRANSITIONS[(S.CHECKED, A.CLOSE)].target == S.CLOSED
    # Every role on the spot may report from a source.
    for role in ON_SITE:
        assert REPORT_SOURCES[role]


def test_the_hotlines_return_call_records_satisfaction_on_a_closed_case() -> None:
    rows = {key: rule for key, rule in TRANSITIONS.items() if key[1] == A.CALLBACK}
    assert set(rows) == {(S.CLOSED, A.CALLBACK)}
    rule = rows[(S.CLOSED, A.CALLBACK)]
    assert rule.target == S.CLOSED
    assert rule.roles == {Role.OPERATOR, Role.SHIFT_LEAD}
