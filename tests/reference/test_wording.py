"""Finding a subclass by the words people use: synonyms as data for the whole shipped
taxonomy, pinyin initials, and results ranked best first."""

from __future__ import annotations

import pytest

from duban.reference.taxonomy import Taxonomy, load_taxonomy
from duban.reference.wording import Matcher, Subclass
from tests.reference.test_taxonomy import _shipped_data


@pytest.fixture(scope="module")
def shipped() -> Taxonomy:
    return load_taxonomy(_shipped_data())


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("摆摊", "E0501"),  # 无照经营游商
        ("流动摊贩", "E0501"),
        ("井盖丢了", "C0114"),  # 不明井盖: a citizen does not know whose cover it is
        ("路灯不亮", "C0118"),
        ("违章停车", "E0505"),  # 机动车乱停放
        ("路上有个坑", "E0110"),
        ("树倒了", "C0402"),
        ("ld", "C0118"),  # pinyin initials of 路灯
        ("bt", "C0121"),  # 报刊亭 first, 摆摊 next
        ("ludeng", "C0118"),
        ("weiting", "E0505"),  # 违停
        ("E0102", "E0102"),
        ("ｅ０１０２", "E0102"),  # full-width, lower case
    ],
)
def test_everyday_words_find_the_right_subclass_first(
    shipped: Taxonomy, words: str, expected: str
) -> None:
    found = shipped.matcher.search(words)
    assert found, words
    assert found[0].code == expected, [s.code for s in found[:5]]


def test_every_manhole_cover_is_offered_for_a_lost_cover(shipped: Taxonomy) -> None:
    found = [s.code for s in shipped.matcher.search("井盖丢了")]
    covers = [c.code for c in shipped.categories.values() if "井盖" in c.name]
    assert set(covers) <= set(found)
    assert "E0501" in [s.code for s in shipped.matcher.search("bt")]


def test_every_shipped_subclass_has_synonyms_and_is_found_by_them(shipped: Taxonomy) -> None:
    subclasses = [c for c in shipped.categories.values() if c.is_subclass]
    assert len(subclasses) > 100
    for sub in subclasses:
        assert sub.synonyms, f"{sub.code} {sub.name} has no everyday synonyms"
        assert sub.keywords, f"{sub.code} {sub.name} has no keywords"
        assert shipped.matcher.search(sub.name)[0].code == sub.code
        for word in sub.synonyms:
            assert sub.code in [s.code for s in shipped.matcher.search(word)], (sub.code, word)


def test_nothing_found_is_an_empty_list() -> None:
    matcher = Matcher([Subclass(code="E0102", name="暴露垃圾", words=("垃圾",))])
    assert matcher.search("火星来客") == []
    assert matcher.search("   ") == []
    assert matcher.search("zz") == []
    assert [s.code for s in matcher.search("bllj")] == ["E0102"]  # 暴露垃圾's initials
    assert [s.code for s in matcher.search("lj")] == ["E0102"]  # 垃圾's
    assert [s.code for s in matcher.search("baolu")] == ["E0102"]  # spelled out
