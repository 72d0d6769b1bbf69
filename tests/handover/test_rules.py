"""Pure rules of hand-overs: the signed link and the choice of the body."""

from __future__ import annotations

import pytest

from duban.handover.rules import BadLink, Entry, LinkProblem, best_entry, read_link, sign_link

SECRET = "rules-test-secret-0123456789abcdef"


def test_a_signed_link_reads_back_until_it_expires() -> None:
    token = sign_link(SECRET, 42, expires=1_000)
    assert read_link(SECRET, token, now=999) == 42
    with pytest.raises(BadLink) as late:
        read_link(SECRET, token, now=1_000)
    assert late.value.problem == LinkProblem.EXPIRED


@pytest.mark.parametrize(
    "token",
    [
        "",
        "42",
        "42.1000",
        "x.1000.abc",
        sign_link("another-secret-0123456789abcdef", 42, 1_000),
        sign_link(SECRET, 42, 1_000).replace("42.", "43.", 1),
        sign_link(SECRET, 42, 1_000).replace(".1000.", ".2000.", 1),
    ],
)
def test_a_forged_link_is_refused(token: str) -> None:
    with pytest.raises(BadLink) as bad:
        read_link(SECRET, token, now=0)
    assert bad.value.problem == LinkProblem.FORGED


def test_the_most_specific_entry_wins() -> None:
    entries = [
        Entry(1, "E05", None),  # 街面秩序
        Entry(2, "E0505", None),  # 机动车乱停放
        Entry(3, None, "E050502"),  # 占用人行道停放
        Entry(4, "E0505", None),  # a later duplicate: the older wins
    ]
    pick = best_entry
    assert pick(entries, category_code="E0505", condition_code="E050502") == entries[2]
    assert pick(entries, category_code="E0505", condition_code="E050501") == entries[1]
    assert pick(entries, category_code="E0504", condition_code=None) == entries[0]
    assert pick(entries, category_code="C0101", condition_code=None) is None
