"""The 部件/事件 taxonomy: the shipped reference file and the loader's validation."""

from __future__ import annotations

import copy
import importlib.resources
import re
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from duban.kernel.errors import PolicyError
from duban.reference.calendar import LimitUnit, TimeLimit
from duban.reference.taxonomy import (
    CategoryLevel,
    Taxonomy,
    TaxonomyError,
    UnknownTaxonomyCode,
    load_taxonomy,
)


def _shipped_data() -> dict[str, Any]:
    text = importlib.resources.files("duban.data").joinpath("taxonomy.yaml").read_text("utf-8")
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def shipped() -> Taxonomy:
    return load_taxonomy(_shipped_data())


def _minimal() -> dict[str, Any]:
    """A small valid taxonomy to break on purpose."""
    return copy.deepcopy(
        {
            "version": 1,
            "name": "测试分类",
            "kinds": {
                "component": {"name": "部件", "name_en": "Component", "code_prefix": "C"},
                "event": {"name": "事件", "name_en": "Event", "code_prefix": "E"},
            },
            "classes": [
                {
                    "kind": "component",
                    "code": "01",
                    "name": "公用设施",
                    "name_en": "Public utilities",
                    "children": [
                        {
                            "code": "0102",
                            "name": "污水井盖",
                            "name_en": "Sewage manhole cover",
                            "keywords": ["井盖"],
                            "conditions": [
                                {
                                    "code": "01",
                                    "name": "井盖丢失",
                                    "limit": {"amount": 2, "unit": "hours"},
                                    "close_rule": "井盖已补装",
                                    "urgent": True,
                                }
                            ],
                        }
                    ],
                },
                {
                    "kind": "event",
                    "code": "01",
                    "name": "市容环境",
                    "name_en": "City appearance",
                    "children": [
                        {
                            "code": "0102",
                            "name": "暴露垃圾",
                            "name_en": "Exposed garbage",
                            "keywords": ["垃圾"],
                            "conditions": [
                                {
                                    "code": "01",
                                    "name": "公共区域暴露垃圾",
                                    "limit": "4 work_hours",
                                    "close_rule": "垃圾清理干净",
                                },
                                {
                                    "code": "02",
                                    "name": "背街小巷暴露垃圾",
                                    "limit": "1 工作日",
                                    "close_rule": "垃圾清理干净",
                                },
                            ],
                        }
                    ],
                },
            ],
        }
    )


def _problems(data: Any) -> tuple[str, ...]:
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(data)
    assert str(caught.value).count("\n  - ") == len(caught.value.problems)
    return caught.value.problems


# -- the shipped file -------------------------------------------------------------------


def test_shipped_taxonomy_loads_with_both_kinds(shipped: Taxonomy) -> None:
    assert set(shipped.kinds) == {"component", "event"}
    assert shipped.kinds["component"].name == "部件"
    assert shipped.kinds["event"].code_prefix == "E"
    assert [c.code for c in shipped.roots("component")] == [f"C0{n}" for n in range(1, 7)]
    assert [c.code for c in shipped.roots("event")] == [f"E0{n}" for n in range(1, 6)]
    assert len(shipped.roots()) == 11


def test_shipped_component_subclasses_cover_the_reference_list(shipped: Taxonomy) -> None:
    codes = {c.code for c in shipped.subclasses("component")}
    assert {f"C01{n:02d}" for n in range(1, 27)} <= codes  # 公用设施 01–26
    assert {f"C02{n:02d}" for n in range(1, 20)} <= codes  # 道路交通 01–19
    assert {f"C03{n:02d}" for n in range(1, 9)} <= codes  # 市容环境 01–08
    assert {"C0401", "C0402", "C0403", "C0404", "C0405", "C0406", "C0407", "C0409"} <= codes
    assert {"C0501", "C0502", "C0503", "C0602"} <= codes
    assert shipped.require_category("C0125").name == "自动售货亭"  # pinned by lilo
    assert shipped.require_category("C0203").name == "公交站亭"
    assert shipped.require_category("C0406").name == "雕塑"


def test_shipped_event_subclasses_are_the_w_list(shipped: Taxonomy) -> None:
    expected = (
        [f"E01{n:02d}" for n in range(1, 19)]
        + ["E0199"]
        + [f"E02{n:02d}" for n in range(1, 6)]
        + [f"E03{n:02d}" for n in range(1, 6)]
        + ["E0399"]
        + [f"E04{n:02d}" for n in range(1, 10)]
        + ["E0499"]
        + [f"E05{n:02d}" for n in range(1, 14)]
        + ["E0599"]
    )
    assert [c.code for c in shipped.subclasses("event")] == expected
    assert shipped.require_category("E0101").name == "私搭乱建"  # W name, not B 新增建筑
    assert shipped.require_category("E0104").name == "道路不洁"
    assert shipped.require_category("E0599").name == "其他街面秩序问题"


def test_codes_are_unique_across_kinds(shipped: Taxonomy) -> None:
    cover = shipped.require_category("C0102")
    garbage = shipped.require_category("E0102")
    assert (cover.kind, cover.name, cover.local_code) == ("component", "污水井盖", "0102")
    assert (garbage.kind, garbage.name, garbage.local_code) == ("event", "暴露垃圾", "0102")
    assert cover != garbage
    assert not set(shipped.categories) & set(shipped.conditions)


def test_every_class_and_subclass_is_complete(shipped: Taxonomy) -> None:
    for major in shipped.roots():
        assert major.level is CategoryLevel.MAJOR
        assert major.name
        assert major.name_en, major.label
        assert major.conditions == ()
        assert shipped.children(major.code), major.label
    for sub in shipped.subclasses():
        assert sub.level is CategoryLevel.SUBCLASS
        assert sub.name
        assert sub.name_en, sub.label
        assert sub.keywords, sub.label
        assert sub.parent_code is not None
        parent = shipped.require_category(sub.parent_code)
        assert sub.local_code.startswith(parent.local_code)
        assert 1 <= len(sub.conditions) <= 3, sub.label
        for condition in sub.conditions:
            assert condition.subclass_code == sub.code
            assert condition.code == sub.code + condition.local_code
            assert condition.close_rule
            assert shipped.require_condition(condition.code) is condition
    assert len(shipped.conditions) == sum(len(s.conditions) for s in shipped.subclasses())


def test_shipped_limits_follow_the_reference_practice(shipped: Taxonomy) -> None:
    def limit(code: str) -> TimeLimit:
        return shipped.require_condition(code).limit

    # 私搭乱建: 停工 4 工作时 / 处罚 7 工作日 / 拆除 20 工作日
    assert [c.limit for c in shipped.require_category("E0101").conditions] == [
        TimeLimit(4, LimitUnit.WORK_HOURS),
        TimeLimit(7, LimitUnit.WORK_DAYS),
        TimeLimit(20, LimitUnit.WORK_DAYS),
    ]
    assert limit("E010201") == TimeLimit(4, LimitUnit.WORK_HOURS)  # 暴露垃圾
    assert shipped.default_condition("E0104").limit == TimeLimit(2, LimitUnit.WORK_HOURS)
    # 井盖: a calendar-time safety limit and an urgent "lost, dangerous" condition
    for code in ("C0101", "C0102", "C0103", "C0111", "C0114"):
        conditions = shipped.require_category(code).conditions
        urgent = [c for c in conditions if c.urgent]
        assert urgent, code
        assert all(not c.limit.unit.is_working_time for c in urgent)
        assert any(c.limit == TimeLimit(6, LimitUnit.HOURS) for c in conditions)
    # urgent conditions everywhere run on calendar time and within a day
    for condition in shipped.conditions.values():
        if condition.urgent:
            assert not condition.limit.unit.is_working_time, condition.code
            assert condition.limit.amount * _HOURS[condition.limit.unit] <= 24


_HOURS = {LimitUnit.MINUTES: 1 / 60, LimitUnit.HOURS: 1.0, LimitUnit.DAYS: 24.0}


def test_shipped_file_has_the_configurable_reference_notice() -> None:
    text = importlib.resources.files("duban.data").joinpath("taxonomy.yaml").read_text("utf-8")
    head = text[:1500]
    assert "CONFIGURABLE REFERENCE" in head
    assert "standards.md" in head


# -- lookups ----------------------------------------------------------------------------


def test_find_returns_none_and_require_raises(shipped: Taxonomy) -> None:
    assert shipped.find_category("E9999") is None
    assert shipped.find_condition("E010299") is None
    assert shipped.find_category(" E0102 ") is shipped.require_category("E0102")
    with pytest.raises(UnknownTaxonomyCode, match="did you mean C0120") as caught:
        shipped.require_category("E0120")
    assert isinstance(caught.value, ValueError)
    assert isinstance(caught.value, PolicyError)
    assert caught.value.requested == "E0120"
    with pytest.raises(UnknownTaxonomyCode, match="C0102, E0102"):
        shipped.require_category("0102")
    with pytest.raises(UnknownTaxonomyCode, match="filing-condition"):
        shipped.require_condition("E0102")


def test_children_roots_and_major(shipped: Taxonomy) -> None:
    children = shipped.children("C06")
    assert [c.code for c in children] == ["C0602"]
    assert shipped.children("C0602") == ()
    with pytest.raises(UnknownTaxonomyCode):
        shipped.children("X01")
    assert shipped.major_of("E010201").code == "E01"
    assert shipped.major_of("E0102").code == "E01"
    assert shipped.major_of("E01").code == "E01"


def test_default_condition(shipped: Taxonomy) -> None:
    first = shipped.default_condition("E0101")
    assert first.code == "E010101"
    assert first.name.endswith("责令停工")
    with pytest.raises(TaxonomyError, match="major class"):
        shipped.default_condition("E01")
    with pytest.raises(UnknownTaxonomyCode):
        shipped.default_condition("E0100")


def test_search_finds_manhole_covers_and_garbage(shipped: Taxonomy) -> None:
    covers = shipped.search("井盖")
    assert shipped.require_category("C0101") in covers
    assert {c.kind for c in covers} == {"component"}
    assert len(covers) >= 12
    garbage = shipped.search("garbage")
    assert garbage[0].code == "E0102"
    assert shipped.search("GARBAGE") == garbage
    assert shipped.search("ＧＡＲＢＡＧＥ") == garbage  # full-width input
    assert [c.code for c in shipped.search("违建")] == ["E0101"]  # keyword
    assert shipped.search("暴露垃圾")[0].code == "E0102"  # whole name first
    assert shipped.search("0102") == (
        shipped.require_category("C0102"),
        shipped.require_category("E0102"),
    )
    assert shipped.search("井盖 燃气") == (shipped.require_category("C0111"),)
    assert shipped.search("垃圾", kind="component")
    assert all(c.kind == "component" for c in shipped.search("垃圾", kind="component"))
    assert len(shipped.search("井盖", limit=3)) == 3
    assert shipped.search("   ") == ()
    assert shipped.search("no-such-thing") == ()


# -- identity ---------------------------------------------------------------------------


def test_fingerprint_is_stable_and_content_based(shipped: Taxonomy) -> None:
    again = load_taxonomy(_shipped_data())
    assert again.fingerprint() == shipped.fingerprint()
    assert len(shipped.fingerprint()) == 64
    assert again == shipped
    assert hash(again) == hash(shipped)
    # reordering keys of a mapping is formatting, not content
    data = _shipped_data()
    data["classes"][0] = dict(reversed(list(data["classes"][0].items())))
    assert load_taxonomy(data).fingerprint() == shipped.fingerprint()
    # a changed limit is a new changeset
    data["classes"][1]["children"][0]["conditions"][0]["limit"] = {"amount": 9, "unit": "days"}
    assert load_taxonomy(data).fingerprint() != shipped.fingerprint()


def test_to_mapping_round_trips(shipped: Taxonomy) -> None:
    copy_of = load_taxonomy(shipped.to_mapping())
    assert copy_of == shipped
    assert copy_of.categories == shipped.categories
    assert copy_of.conditions == shipped.conditions


def test_taxonomy_is_read_only(shipped: Taxonomy) -> None:
    with pytest.raises(TypeError):
        shipped.categories["E9999"] = shipped.require_category("E0102")  # type: ignore[index]


# -- validation -------------------------------------------------------------------------


def test_minimal_taxonomy_loads_with_text_and_chinese_limits() -> None:
    taxonomy = load_taxonomy(_minimal())
    assert taxonomy.require_condition("E010201").limit == TimeLimit(4, LimitUnit.WORK_HOURS)
    assert taxonomy.require_condition("E010202").limit == TimeLimit(1, LimitUnit.WORK_DAYS)
    assert taxonomy.require_condition("C010201").urgent is True
    assert taxonomy.require_condition("E010201").urgent is False
    assert taxonomy.require_category("E0102").name_en == "Exposed garbage"


def test_bad_file_reports_all_problems_at_once() -> None:
    data = _minimal()
    event = data["classes"][1]
    sub = event["children"][0]
    # 1 duplicate full code: a second E0102
    event["children"].append(copy.deepcopy(sub))
    # 2 subclass code not starting with its major class code
    event["children"].append({**copy.deepcopy(sub), "code": "0201"})
    # 3 missing limit, 4 bad unit, 5 empty name
    del sub["conditions"][0]["limit"]
    sub["conditions"][1]["limit"] = {"amount": 2, "unit": "fortnights"}
    sub["name"] = "  "
    # 6 unknown kind
    data["classes"].append({**copy.deepcopy(event), "kind": "evnt", "code": "02"})

    problems = _problems(data)

    def having(*needles: str) -> list[str]:
        return [p for p in problems if all(n in p for n in needles)]

    assert having("duplicate code E0102")
    assert having("'0201'", "must start with its major class code '01'")
    assert having("E010201", "'limit' is missing")
    assert having("E010202", "unknown time-limit unit", "fortnights")
    assert having("'name' is empty")
    assert having("unknown kind 'evnt'", "did you mean 'event'")
    # the duplicate subclass repeats the broken conditions, so problems come in multiples
    assert len(problems) >= 6


_BROKEN: list[tuple[str, Callable[[dict[str, Any]], object], str]] = [
    ("version", lambda d: d.update(version=2), "'version' 2 is not supported"),
    ("name", lambda d: d.pop("name"), "'name' is missing"),
    (
        "code as number",
        lambda d: d["classes"][0].update(code=1),
        "must be a quoted string",
    ),
    (
        "prefix clash",
        lambda d: d["kinds"]["event"].update(code_prefix="C"),
        "code_prefix 'C' is already used",
    ),
    (
        "no conditions",
        lambda d: d["classes"][0]["children"][0].update(conditions=[]),
        "'conditions' is empty",
    ),
    (
        "no children",
        lambda d: d["classes"][0].pop("children"),
        "'children' is missing",
    ),
    (
        "conditions on major",
        lambda d: d["classes"][0].update(conditions=[]),
        "a major class has no filing conditions",
    ),
    (
        "typo",
        lambda d: d["classes"][0]["children"][0].update(keyword=["x"]),
        "did you mean 'keywords'",
    ),
    (
        "urgent",
        lambda d: d["classes"][0]["children"][0]["conditions"][0].update(urgent="yes"),
        "'urgent' must be true or false",
    ),
    (
        "zero amount",
        lambda d: d["classes"][1]["children"][0]["conditions"][0].update(
            limit={"amount": 0, "unit": "hours"}
        ),
        "greater than 0",
    ),
    (
        "close rule",
        lambda d: d["classes"][1]["children"][0]["conditions"][0].pop("close_rule"),
        "'close_rule' is missing",
    ),
    (
        "evidence",
        lambda d: d["classes"][0].update(evidence="X"),
        "'evidence' must be one of V, C, I, U",
    ),
    (
        "three levels",
        lambda d: d["classes"][0]["children"][0].update(children=[]),
        "only two levels",
    ),
    (
        "condition collides with a category",
        lambda d: d["classes"][1]["children"].append(
            {**copy.deepcopy(d["classes"][1]["children"][0]), "code": "010201"}
        ),
        "duplicate code E010201",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "needle"), [case[1:] for case in _BROKEN], ids=[case[0] for case in _BROKEN]
)
def test_each_kind_of_problem_is_named(
    mutate: Callable[[dict[str, Any]], object], needle: str
) -> None:
    data = _minimal()
    mutate(data)
    problems = _problems(data)
    assert any(needle in p for p in problems), problems


def test_problem_positions_name_the_place() -> None:
    data = _minimal()
    data["classes"][1]["children"][0]["conditions"][1]["limit"] = "soon"
    (problem,) = _problems(data)
    assert problem.startswith(
        "classes[1] (E01 市容环境) / children[0] (E0102 暴露垃圾) / "
        "conditions[1] (E010202 背街小巷暴露垃圾): limit: cannot read time limit 'soon'"
    )


def test_extension_fields_are_ignored() -> None:
    data = _minimal()
    data["x_source"] = "city bureau 2024"
    data["classes"][0]["x_color"] = "#f00"
    assert load_taxonomy(data).fingerprint() == load_taxonomy(_minimal()).fingerprint()


def test_not_a_mapping() -> None:
    with pytest.raises(TaxonomyError, match="a taxonomy is a mapping"):
        load_taxonomy([])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "mutate",
    [
        *(case[1] for case in _BROKEN),
        lambda d: d["classes"][1]["children"][0]["conditions"][0].update(limit="soon"),
        lambda d: d["classes"][1]["children"][0]["conditions"][0].update(limit=["2", "days"]),
        lambda d: d["classes"][1]["children"][0]["conditions"][0].update(limit={"amount": 2}),
        lambda d: d["classes"][1]["children"][0]["conditions"][0].update(
            limit={"amount": "two", "unit": "hours"}
        ),
        lambda d: d["classes"][1].update(kind="evnt"),
        lambda d: d["classes"][1].pop("kind"),
        lambda d: d.update(kinds=[]),
        lambda d: d["classes"][0].update(code="0 1"),
    ],
    ids=[
        *(case[0] for case in _BROKEN),
        "text",
        "list",
        "keys",
        "amount",
        "kind",
        "nokind",
        "kinds",
        "code",
    ],
)
def test_each_problem_reads_in_chinese_and_in_english(
    mutate: Callable[[dict[str, Any]], object],
) -> None:
    from duban.web.i18n import translate

    data = _minimal()
    mutate(data)
    with pytest.raises(TaxonomyError) as caught:
        load_taxonomy(data)
    err = caught.value
    assert [str(text) for text in err.problem_texts] == list(err.problems)
    chinese = translate(err.text, "zh")
    assert chinese.startswith(f"分类数据有 {len(err.problems)} 处问题：")
    for text, english in zip(err.problem_texts, err.problems, strict=True):
        assert translate(text, "api") == english
        zh = translate(text, "zh")
        assert zh in chinese
        assert zh != english
        # the file's keys, codes and values stay; the sentence around them is Chinese
        assert not re.search(r"\b(must|missing|unknown|empty|got|number|supported)\b", zh), zh
