"""Notifications on the web: a person's channel page (in the browser, on a phone too),
the API behind it, and the admin's page of background jobs."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from duban import notify
from duban.jobs.sweep import sweep_overdue
from duban.jobs.worker import Worker, WorkerConfig
from tests.factories import World
from tests.http import Api
from tests.web.conftest import Browse
from tests.web.test_server import sign_in


def test_a_handler_chooses_email_in_the_browser(browse: Browse, world: World) -> None:
    page: Any = browse.signed_in("handler", phone=True)
    page.click("label.menu-button")  # the phone's menu holds the account's links
    page.click("a[href='/account/notifications']")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "通知设置"
    page.check("input[name=channels][value=wechat]")
    page.click("form[action='/account/notifications'] button")
    page.wait_for_load_state()
    assert "须填写微信用户标识" in page.content()  # the refusal in place, in Chinese
    page.uncheck("input[name=channels][value=wechat]")
    page.check("input[name=channels][value=email]")
    page.fill("input[name=email]", "handler@szgc.example")
    page.click("form[action='/account/notifications'] button")
    page.wait_for_load_state()
    assert "已保存" in page.content()
    prefs = notify.get_preferences(world.session, actor=world.actor("handler"))
    assert prefs.channels == ["email"]
    assert prefs.email == "handler@szgc.example"


def test_channels_through_the_api(api: Api) -> None:
    headers = api.headers("collector")
    put = api.client.put(
        "/api/v1/me/notifications",
        json={"channels": ["sms"], "phone": "13812345678"},
        headers=headers,
    )
    assert put.status_code == 200, put.text
    assert put.json()["channels"] == ["sms"]
    bad = api.client.put(
        "/api/v1/me/notifications",
        json={"channels": ["email"]},
        headers={**headers, "Accept-Language": "zh-CN"},
    )
    assert bad.status_code == 422
    assert api.get("/me/notifications", "collector").json()["phone"] == "13812345678"


def test_an_admin_adds_a_webhook_through_the_api(api: Api) -> None:
    made = api.client.post(
        "/api/v1/admin/webhooks",
        json={"url": "https://hooks.example/duban", "events": ["case.*"]},
        headers=api.headers("admin"),
    )
    assert made.status_code == 201, made.text
    assert len(made.json()["secret"]) > 20
    refused = api.client.post(
        "/api/v1/admin/webhooks",
        json={"url": "https://hooks.example/x"},
        headers=api.headers("dispatcher"),
    )
    assert refused.status_code == 403


def test_the_admin_sees_each_jobs_last_run(app: FastAPI, world: World) -> None:
    sweep_overdue(world.session, clock=world.clock)
    worker = Worker(
        world.session_factory, clock=world.clock, config=WorkerConfig(senders={}, jobs=("sweep",))
    )
    assert worker.run_due()["sweep"].startswith("sweep:")
    with TestClient(app, base_url="http://testserver") as client:
        sign_in(client, app, world, "admin")
        page = client.get("/admin/worker")
        assert page.status_code == 200
        assert "后台任务" in page.text
        assert "超期巡检与预警" in page.text
        assert "正常" in page.text
        assert "通知发件箱" in page.text
        sign_in(client, app, world, "dispatcher")
        assert client.get("/admin/worker").status_code == 403
