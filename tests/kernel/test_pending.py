"""The one pattern for a request that waits for a decision (kernel.pending)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from duban.kernel.errors import Conflict, IllegalTransition
from duban.kernel.pending import (
    Pending,
    PendingKind,
    Verdict,
    ask,
    decide,
    ensure_can_ask,
    offers,
    take,
)

ORDER = PendingKind(
    label="supervision order",
    article="a",
    ask="issue_order",
    approve="sign_order",
    deny="refuse_order",
    decider="supervisor",
)
LATER = datetime(2026, 12, 1, 9, tzinfo=UTC)


def test_a_request_waits_once_asked() -> None:
    request = Pending(LATER, "the pipe needs a part")
    assert ask(ORDER, None, request, subject="case C1") is request


def test_a_second_request_while_one_waits_is_a_conflict_naming_the_subject() -> None:
    waiting = Pending(LATER, "first")
    with pytest.raises(Conflict, match="case C1 already has a supervision order waiting"):
        ask(ORDER, waiting, Pending(LATER, "second"), subject="case C1")
    with pytest.raises(Conflict):
        ensure_can_ask(ORDER, waiting, subject="case C1")


@pytest.mark.parametrize("verdict", list(Verdict))
def test_a_decision_hands_back_the_request_it_decided(verdict: Verdict) -> None:
    waiting = Pending(LATER, "why")
    decision = decide(ORDER, waiting, verdict, status="handling")
    assert decision.request is waiting
    assert decision.verdict is verdict
    assert decision.approved is (verdict is Verdict.APPROVE)


@pytest.mark.parametrize("verdict", list(Verdict))
def test_deciding_when_nothing_waits_is_an_illegal_transition(verdict: Verdict) -> None:
    with pytest.raises(IllegalTransition) as refused:
        decide(ORDER, None, verdict, status="handling")
    assert refused.value.action == (ORDER.approve if verdict is Verdict.APPROVE else ORDER.deny)
    assert refused.value.role == "supervisor"
    assert "there is no supervision order waiting" in refused.value.message


def test_take_names_the_action_that_found_nothing() -> None:
    with pytest.raises(IllegalTransition, match="'refuse_order'"):
        take(ORDER, None, action="refuse_order", status="parked")


def test_the_actions_offered_follow_the_state() -> None:
    waiting = Pending(None, "why")
    assert offers(ORDER, "issue_order", None)
    assert not offers(ORDER, "issue_order", waiting)
    for decider in ("sign_order", "refuse_order"):
        assert not offers(ORDER, decider, None)
        assert offers(ORDER, decider, waiting)
    assert offers(ORDER, "comment", None)
    assert offers(ORDER, "comment", waiting)
    assert ORDER.verdict_of("sign_order") is Verdict.APPROVE
    assert ORDER.verdict_of("refuse_order") is Verdict.DENY
    assert ORDER.verdict_of("comment") is None


_STEPS = st.lists(st.sampled_from(["issue_order", "sign_order", "refuse_order"]), max_size=30)


@settings(max_examples=200)
@given(_STEPS)
def test_any_run_keeps_one_request_at_most_and_offers_exactly_what_succeeds(
    steps: list[str],
) -> None:
    state: Pending[int] | None = None
    asked = decided = 0
    for number, action in enumerate(steps):
        offered = offers(ORDER, action, state)
        try:
            if action == ORDER.ask:
                state = ask(ORDER, state, Pending(number, f"ask {number}"), subject="case C1")
                asked += 1
            else:
                verdict = ORDER.verdict_of(action)
                assert verdict is not None
                decision = decide(ORDER, state, verdict, status="handling")
                assert decision.request == state
                state = None
                decided += 1
        except Conflict:  # IllegalTransition is a Conflict too
            assert not offered
            continue
        assert offered
    # Every request asked was decided, except the one that may still wait.
    assert asked - decided == (0 if state is None else 1)
