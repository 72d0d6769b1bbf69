"""Text with NUL or another control character is refused at the edge with 422, on every
face of the API, and one such report never hurts the reports sent beside it."""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from duban.kernel.errors import InvalidInput
from duban.kernel.inputs import clean_text, refuse_control_characters
from tests.cases.test_create_api import VALID, _post_together
from tests.factories.evidence import jpeg
from tests.http import API, Api, assert_error, count_cases


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x1b", "\x7f", "\x85"])
def test_clean_text_refuses_control_characters_but_keeps_newlines_and_tabs(char: str) -> None:
    assert clean_text(" 第一行\n第二行\t完 ", field_name="note", limit=100) == "第一行\n第二行\t完"
    with pytest.raises(InvalidInput) as refused:
        clean_text(f"井盖{char}缺失", field_name="description", limit=100)
    assert refused.value.field == "description"
    assert refused.value.detail["code"] == "control_character"
    assert refuse_control_characters("\r\n\t", field_name="x") == "\r\n\t"


@pytest.mark.parametrize(
    "field", ["description", "address", "reporter_name", "reporter_phone", "category_code"]
)
def test_a_report_with_a_nul_in_any_text_is_refused_and_nothing_is_written(
    api: Api, engine: Engine, field: str
) -> None:
    body = {**VALID, field: "坏\x00字"}
    response = api.client.post(f"{API}/cases", json=body, headers=api.headers("operator"))
    assert response.status_code == 422, response.text
    assert count_cases(engine) == 0


def test_a_nul_in_an_actions_note_or_any_json_body_is_a_422(api: Api) -> None:
    case = api.report("operator")
    response = api.act_raw(case["id"], "assign", "dispatcher", note="派\x00遣")
    error = assert_error(response, 422, "control_character")
    assert "note" in error["message"]


@pytest.mark.parametrize(
    "query",
    [
        {"grid": "41\x00"},
        {"status": "reported\x00"},
        {"category": "E01\x07"},
        {"created_from": "2026-11-01\x00"},
    ],
)
def test_a_nul_in_a_filter_parameter_is_a_422(api: Api, query: dict[str, str]) -> None:
    response = api.client.get(f"{API}/cases", params=query, headers=api.headers("dispatcher"))
    assert_error(response, 422, "control_character")


def test_one_poisoned_report_among_many_concurrent_ones_hurts_no_other(
    api: Api, live_server: str, engine: Engine
) -> None:
    """The poison-batch test: 24 clients report at the same moment, one with a NUL in
    its description. That one is refused; all the others are written."""
    bodies: list[dict[str, Any]] = [{**VALID, "description": f"第{i}处暴露垃圾"} for i in range(24)]
    bodies[11] = {**VALID, "description": "暴露\x00垃圾"}
    responses = _post_together(f"{live_server}{API}/cases", api.headers("operator"), bodies)
    statuses = [r.status_code for r in responses]
    assert statuses == [201] * 11 + [422] + [201] * 12, [r.text for r in responses]
    assert count_cases(engine) == 23
    assert len({r.json()["code"] for i, r in enumerate(responses) if i != 11}) == 23


def test_eight_clients_uploading_photos_at_once_all_succeed(
    api: Api, live_server: str, engine: Engine
) -> None:
    """Concurrent writes wait their turn (on SQLite too): 8 clients, 5 photos each, and
    then a report with them — every request answered 201."""
    headers = api.headers("citizen")
    barrier = threading.Barrier(8)
    results: list[list[int]] = [[] for _ in range(8)]

    def client(i: int) -> None:
        with httpx.Client(base_url=live_server, timeout=60) as http:
            barrier.wait()
            ids = []
            for k in range(5):
                response = http.post(
                    f"{API}/photos",
                    files={"file": ("p.jpg", jpeg(colour=(i * 20, k * 40, 90)), "image/jpeg")},
                    headers=headers,
                )
                results[i].append(response.status_code)
                if response.status_code == 201:
                    ids.append(response.json()["id"])
            report = http.post(
                f"{API}/cases",
                json={**VALID, "source": "citizen", "photo_ids": ids},
                headers=headers,
            )
            results[i].append(report.status_code)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert results == [[201] * 6] * 8
    assert count_cases(engine) == 8
