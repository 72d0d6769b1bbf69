"""A bad policy names the setting at fault, what it must be and what the file holds, in
the reader's language (Duban's rule: messages from the catalogues, never the parser's
English), from :func:`parse_policy` and through the admin API that replaces the policy."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from duban.kernel.errors import PolicyError
from duban.reference.policy import parse_policy, shipped_policy_data
from duban.web.i18n import translate
from tests.http import API, Api

Change = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Change:
    def change(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        at = data
        for key in parents:
            at = at.setdefault(key, {})
        at[last] = value

    return change


#: (the change to the shipped policy, the setting named, the Chinese, the English)
BAD_FILES: list[tuple[Change, str, str, str]] = [
    # a value of the wrong kind
    (
        _set("steps.dispatch", "soon"),
        "steps.dispatch",
        "设置项 steps.dispatch 须为时限，例如“2 work_days”（2 工作日）或“4 hours”（4 小时），"
        '而文件中是 "soon"',
        "the setting steps.dispatch must be a time limit such as '2 work_days' or '4 hours', "
        'not "soon"',
    ),
    (
        _set("lights.yellow_at", "high"),
        "lights.yellow_at",
        '设置项 lights.yellow_at 须为数字，而文件中是 "high"',
        'the setting lights.yellow_at must be a number, not "high"',
    ),
    (
        _set("sources.inspection.max", {"amount": 0, "unit": "work_days"}),
        "sources.inspection.max.amount",
        "设置项 sources.inspection.max.amount 须为大于 0 的数字，而文件中是 0",
        "the setting sources.inspection.max.amount must be a number greater than 0, not 0",
    ),
    (
        _set("limits.rates.uploads_per_ip", "lots"),
        "limits.rates.uploads_per_ip",
        "设置项 limits.rates.uploads_per_ip 须为频率，例如“30/hour”或“5/10 minutes”",
        "the setting limits.rates.uploads_per_ip must be a rate such as '30/hour' or "
        "'5/10 minutes', not \"lots\"",
    ),
    (
        _set("places.nearby", [250]),
        "places.nearby",
        "设置项 places.nearby 须为一组设置项（键值映射），而文件中是 [250]",
        "the setting places.nearby must be a mapping of settings, not [250]",
    ),
    (
        _set("calendar.holidays", ["2026-13-01"]),
        "calendar.holidays",
        "设置项 calendar.holidays 须为日期列表，例如 ['2026-05-06']（YYYY-MM-DD），"
        '而文件中是 "2026-13-01"',
        "the setting calendar.holidays must be a list of dates such as ['2026-05-06'] "
        '(YYYY-MM-DD), not "2026-13-01"',
    ),
    (
        _set("calendar.timezone", "Asia/Beijing"),
        "calendar.timezone",
        '设置项 calendar.timezone 须为时区名称，例如 Asia/Shanghai，而文件中是 "Asia/Beijing"',
        "the setting calendar.timezone must be a time zone such as Asia/Shanghai, "
        'not "Asia/Beijing"',
    ),
    # a missing key
    (
        _set("steps.dispatch", {"amount": 2}),
        "steps.dispatch.unit",
        "缺少设置项 steps.dispatch.unit：须为以下之一：",
        "the setting steps.dispatch.unit is missing: it must be one of ",
    ),
    # an unknown key (refused: a time limit and the calendar take only their own keys)
    (
        _set("steps.check", {"amount": 2, "unit": "work_days", "hours": 4}),
        "steps.check.hours",
        "没有设置项 steps.check.hours；此处可用的设置项为 amount, unit",
        "there is no setting steps.check.hours; the settings here are amount, unit",
    ),
    (
        _set("calendar.weekends", ["sat"]),
        "calendar.weekends",
        "没有设置项 calendar.weekends；此处可用的设置项为 ",
        "there is no setting calendar.weekends; the settings here are ",
    ),
    # a value outside its choices
    (
        _set("places.outside_grids", "sometimes"),
        "places.outside_grids",
        "设置项 places.outside_grids 须为以下之一：reject, catch_all, accept，"
        '而文件中是 "sometimes"',
        "the setting places.outside_grids must be one of reject, catch_all, accept, "
        'not "sometimes"',
    ),
    (
        _set("steps.verify.unit", "weeks"),
        "steps.verify.unit",
        "设置项 steps.verify.unit 须为以下之一：work_hours, work_days, ",
        "the setting steps.verify.unit must be one of work_hours, work_days, ",
    ),
    (
        _set("dispatch.levels", 3),
        "dispatch.levels",
        "设置项 dispatch.levels 须为1 或 2，而文件中是 3",
        "the setting dispatch.levels must be 1 or 2, not 3",
    ),
]


@pytest.mark.parametrize(("change", "setting", "chinese", "english"), BAD_FILES)
def test_a_bad_setting_is_named_in_both_languages(
    change: Change, setting: str, chinese: str, english: str
) -> None:
    data = copy.deepcopy(shipped_policy_data())
    change(data)
    with pytest.raises(PolicyError) as refused:
        parse_policy(data)
    err = refused.value
    assert err.detail["setting"] == setting
    assert translate(err.text, "zh").startswith("策略无效：" + chinese)
    assert str(err).startswith("the policy is invalid: " + english)
    assert translate(err.text, "en").startswith("The policy is invalid: " + english)
    assert "wrong kind" not in str(err)
    assert setting in err.detail["cause"]  # the English, for programs and the log


def test_the_admin_api_names_the_setting_in_the_callers_language(api: Api) -> None:
    policy = api.get("/admin/policy", "admin").json()
    policy["steps"]["close"] = {"amount": "two", "unit": "work_hours"}
    url, headers = f"{API}/admin/policy", api.headers("admin")
    english = api.client.put(url, headers=headers, json=policy)
    assert english.status_code == 422
    body = english.json()["error"]
    assert body["detail"]["setting"] == "steps.close.amount"
    assert (
        'the setting steps.close.amount must be a number greater than 0, not "two"'
        in body["message"]
    )
    chinese = api.client.put(url, headers={**headers, "Accept-Language": "zh-CN"}, json=policy)
    assert chinese.status_code == 422
    assert (
        '设置项 steps.close.amount 须为大于 0 的数字，而文件中是 "two"'
        in (chinese.json()["error"]["message"])
    )


@pytest.mark.parametrize(
    ("ladder", "setting", "chinese"),
    [
        ([{"step": "phone", "after_work_days": 0}], "supervision.ladder[0].step", "须为以下之一："),
        ([{"after_work_days": 1}], "supervision.ladder[0].step", "缺少设置项"),
        (
            [{"step": "remind", "after_work_days": "soon"}],
            "supervision.ladder[0].after_work_days",
            "不小于 0 的整数",
        ),
    ],
)
def test_a_bad_supervision_ladder_names_the_setting(
    ladder: list[dict[str, Any]], setting: str, chinese: str
) -> None:
    from duban.supervision.rules import parse_policy as parse_supervision

    with pytest.raises(PolicyError) as refused:
        parse_supervision({"ladder": ladder})
    assert refused.value.detail["setting"] == setting
    assert setting in str(refused.value)
    said = translate(refused.value.text, "zh")
    assert setting in said
    assert chinese in said
