"""The taxonomy through the API: the category tree and who may read it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi.testclient import TestClient

from tests.http import API, Api, assert_error


def walk(nodes: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for node in nodes:
        yield node
        yield from walk(node["children"])


def test_categories_tree(api: Api) -> None:
    response = api.get("/categories", "citizen")
    assert response.status_code == 200
    tree = response.json()
    by_code = {n["code"]: n for n in walk(tree)}
    assert len(by_code) == sum(1 for _ in walk(tree))  # codes are unique across kinds
    kinds = {n["kind"] for n in tree}
    assert kinds == {"component", "event"}
    for root in tree:
        assert root["level"] == 1
        assert root["kind_name"] == ("部件" if root["kind"] == "component" else "事件")
        assert root["children"], root["code"]
        for child in root["children"]:
            assert child["level"] == 2
            assert child["kind"] == root["kind"]
            assert child["code"].startswith(root["code"])
            assert child["children"] == []

    c0102, e0102 = by_code["C0102"], by_code["E0102"]
    assert (c0102["kind"], c0102["name"]) == ("component", "污水井盖")
    assert (e0102["kind"], e0102["name"]) == ("event", "暴露垃圾")
    assert c0102 in by_code["C01"]["children"]
    assert e0102 in by_code["E01"]["children"]
    assert e0102["conditions"][0] == {
        "code": "E010201",
        "name": "道路、广场等公共区域可见暴露垃圾",
        "name_en": "Exposed rubbish visible on roads, squares or other public areas",
        "limit": {"amount": 4, "unit": "work_hours"},
        "close_rule": "垃圾清理干净，无残留",
        "urgent": False,
    }
    assert c0102["conditions"][0]["limit"] == {"amount": 2, "unit": "hours"}
    assert c0102["conditions"][0]["urgent"] is True
    condition_codes = [c["code"] for n in walk(tree) for c in n["conditions"]]
    assert len(condition_codes) == len(set(condition_codes))
    for node in walk(tree):
        for cond in node["conditions"]:
            assert cond["code"].startswith(node["code"])
            assert cond["limit"]["unit"] in {"work_hours", "work_days", "hours", "days", "minutes"}
            assert cond["limit"]["amount"] > 0


def test_categories_need_sign_in(client: TestClient) -> None:
    assert_error(client.get(f"{API}/categories"), 401, "unauthenticated")
