"""Admin endpoints for reference data: filing-condition limits, taxonomy and policy."""

from __future__ import annotations

import copy
import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from duban.reference.categories import shipped_taxonomy_data
from duban.reference.models import Category, FilingCondition
from tests.http import API, Api, last_event


def _put(api: Api, path: str, by: str, body: Any) -> Any:
    return api.client.put(f"{API}{path}", headers=api.headers(by), json=body)


def _post(api: Api, path: str, by: str, body: Any) -> Any:
    return api.client.post(f"{API}{path}", headers=api.headers(by), json=body)


def test_changing_a_limit_applies_to_the_next_dispatch(api: Api, session: Session) -> None:
    condition = session.scalars(
        select(FilingCondition).where(FilingCondition.category_code == "E0102")
    ).first()
    assert condition is not None
    response = _put(
        api,
        f"/admin/conditions/{condition.code}/limit",
        "admin",
        {"amount": 3, "unit": "work_days"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["limit"] == {"amount": 3.0, "unit": "work_days"}
    bad = _put(
        api, f"/admin/conditions/{condition.code}/limit", "admin", {"amount": 3, "unit": "weeks"}
    )
    assert bad.status_code == 422
    missing = _put(api, "/admin/conditions/NOPE/limit", "admin", {"amount": 3, "unit": "days"})
    assert missing.status_code == 404
    # Monday 09:00 + 3 working days of 7.5 h = Thursday 09:00 local.
    case = api.dispatched(condition_code=condition.code)
    assert case["due_at"].startswith("2026-11-26T09:00:00")


def test_two_limit_changes_in_one_clock_tick_both_take_effect(api: Api) -> None:
    """The taxonomy's change stamp moves even when the clock does not (the cached
    subclass table would otherwise keep the first change)."""
    seen = []
    for amount in (3, 5):
        response = _put(
            api, "/admin/conditions/E010201/limit", "admin", {"amount": amount, "unit": "work_days"}
        )
        assert response.status_code == 200, response.text
        filed = api.filed(condition_code="E010201")
        seen.append(last_event(filed)["payload"]["limit"])
    assert seen == ["3 work_days", "5 work_days"]


def test_a_city_replaces_the_taxonomy_and_a_broken_one_changes_nothing(
    api: Api, session: Session
) -> None:
    data = copy.deepcopy(shipped_taxonomy_data())
    events = next(c for c in data["classes"] if c["kind"] == "event" and c["code"] == "01")
    events["children"].append(
        {
            "code": "0190",
            "name": "共享单车乱停放",
            "name_en": "Shared bikes parked badly",
            "conditions": [
                {
                    "code": "01",
                    "name": "人行道上成片乱停放",
                    "limit": {"amount": 2, "unit": "work_hours"},
                    "close_rule": "清理归位",
                }
            ],
        }
    )
    ok = _put(api, "/admin/taxonomy", "admin", data)
    assert ok.status_code == 200, ok.text
    assert session.get(Category, "E0190") is not None
    broken = copy.deepcopy(data)
    broken["classes"][0]["children"][0]["conditions"][0]["limit"] = {"amount": -1, "unit": "x"}
    broken["classes"][0]["children"][1]["name"] = ""
    refused = _put(api, "/admin/taxonomy", "admin", broken)
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["message"].startswith("the taxonomy has 2 problems")  # the API's English
    problems = "\n".join(error["detail"]["problems"])
    assert "limit" in problems
    assert "name" in problems
    session.expire_all()
    assert session.get(Category, "E0190") is not None


def test_policy_overrides_move_deadlines(api: Api, session: Session) -> None:
    condition = session.scalars(
        select(FilingCondition).where(FilingCondition.category_code == "E0102")
    ).first()
    assert condition is not None
    _put(
        api,
        f"/admin/conditions/{condition.code}/limit",
        "admin",
        {"amount": 1, "unit": "work_days"},
    )
    policy = api.get("/admin/policy", "admin").json()
    policy["calendar"]["holidays"] = ["2026-11-24"]  # a local day off on Tuesday
    saved = _put(api, "/admin/policy", "admin", policy)
    assert saved.status_code == 200, saved.text
    assert saved.json()["calendar"]["holidays"] == ["2026-11-24"]
    # Monday 09:00 + 1 working day skips the local day off: Wednesday 09:00.
    case = api.dispatched(condition_code=condition.code)
    assert case["due_at"].startswith("2026-11-25T09:00:00")
    broken = dict(policy, calendar={"periods": ["18:00-08:00"]})
    assert _put(api, "/admin/policy", "admin", broken).status_code == 422


def test_a_broken_taxonomy_reads_in_the_callers_language(api: Api, session: Session) -> None:
    """Each problem of a refused taxonomy is a sentence of the catalogue: Chinese when the
    caller asks for it first, the templates' English otherwise (detail.problems stays a list
    of strings)."""
    broken = copy.deepcopy(shipped_taxonomy_data())
    conditions = broken["classes"][0]["children"][0]["conditions"]
    conditions[0]["limit"] = {"amount": 2, "unit": "fortnights"}
    conditions[0]["urgent"] = "yes"
    broken["classes"][0]["children"][1]["name"] = ""
    broken["classes"][0]["colour"] = "red"

    def refused(language: str) -> dict[str, Any]:
        response = api.client.put(
            f"{API}/admin/taxonomy",
            headers={**api.headers("admin"), "Accept-Language": language},
            json=broken,
        )
        assert response.status_code == 422, response.text
        error: dict[str, Any] = response.json()["error"]
        assert error["code"] == "invalid_policy"
        assert isinstance(error["detail"]["problems"], list)
        assert all(isinstance(p, str) for p in error["detail"]["problems"])
        assert len(error["detail"]["problems"]) == 4
        return error

    chinese = refused("zh-CN,zh;q=0.9")
    assert chinese["message"].startswith("分类数据有 4 处问题：\n  - ")
    problems = "\n".join(chinese["detail"]["problems"])
    assert "未知时限单位 'fortnights'" in problems
    assert "“urgent”须为 true 或 false，实际为 'yes'" in problems
    assert "“name”为空" in problems
    assert "未知字段 'colour'" in problems
    for problem in chinese["detail"]["problems"]:
        assert problem in chinese["message"]
    # No English sentence left: only the file's own keys, codes and values.
    assert not re.search(r"\b(must|missing|unknown|empty|known|got)\b", chinese["message"])

    english = refused("en-GB,en;q=0.8")
    assert english["message"].startswith("the taxonomy has 4 problems:\n  - ")
    problems = "\n".join(english["detail"]["problems"])
    assert "limit: unknown time-limit unit 'fortnights'" in problems
    assert "'urgent' must be true or false, got 'yes'" in problems
    assert "'name' is empty" in problems
    assert "unknown field 'colour'" in problems
    assert "须为" not in problems
    assert "为空" not in problems
