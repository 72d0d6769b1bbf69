"""Limits before work (issue 12, item 4): bodies capped before they are read, decode
cost bounded, photos of a refused report not kept, rate limits with Retry-After."""

from __future__ import annotations

import asyncio
import io
import struct
import time
import zlib
from dataclasses import replace
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from duban.api.limits import RequestLimits, use_policy_limits
from duban.evidence.models import Photo
from duban.kernel.errors import PolicyError
from duban.kernel.limits import Backoff, FailureDelays, Rate, TokenBuckets
from duban.open311.apikeys import create_api_key
from duban.reference.policy import LimitsPolicy, parse_policy, shipped_policy_data
from tests.factories.evidence import jpeg
from tests.fakes import FixedClock
from tests.http import API, Api

pytestmark = pytest.mark.attack

MB = 1024 * 1024


MULTIPART = (
    b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.jpg"\r\n'
    b"Content-Type: image/jpeg\r\n\r\n"
)


def _asgi(app: FastAPI, method: str, path: str, headers: dict[str, str], chunks: int) -> Any:
    """Drive ``app`` by hand: a body of ``chunks`` × 1 MiB offered; how many were read."""
    sent: list[dict[str, Any]] = []
    read = {"n": 0}

    async def receive() -> dict[str, Any]:
        read["n"] += 1
        more = read["n"] < chunks
        head = MULTIPART if read["n"] == 1 else b""
        return {"type": "http.request", "body": head + b"\1" * MB, "more_body": more}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("203.0.113.9", 5555),
        "server": ("testserver", 80),
        "state": {},
    }
    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], dict(start["headers"]), read["n"]


def test_a_declared_300_mb_upload_is_refused_before_a_byte_is_read(api: Api, app: FastAPI) -> None:
    headers = {"content-type": "multipart/form-data; boundary=x", "content-length": str(300 * MB)}
    status, raw, read = _asgi(app, "POST", f"{API}/photos", headers, 300)
    assert (status, read) == (413, 0)
    assert raw[b"x-content-type-options"] == b"nosniff"
    status, _, read = _asgi(app, "POST", "/open311/v2/requests.json", headers, 300)
    assert (status, read) == (413, 0)
    status, _, read = _asgi(app, "POST", "/report", headers, 300)  # the anonymous web form
    assert (status, read) == (413, 0)


def test_an_unauthenticated_streamed_upload_is_401_unread(api: Api, app: FastAPI) -> None:
    headers = {"content-type": "multipart/form-data; boundary=x"}  # chunked: no length
    status, _, read = _asgi(app, "POST", f"{API}/photos", headers, 300)
    assert (status, read) == (401, 0)


def test_a_streamed_upload_stops_at_the_cap(api: Api, app: FastAPI) -> None:
    headers = {"content-type": "multipart/form-data; boundary=x", **api.headers("handler")}
    started = time.perf_counter()
    status, _, read = _asgi(app, "POST", f"{API}/photos", headers, 300)
    assert status == 413
    cap = app.state.settings.max_photo_bytes // MB + 1
    assert read <= cap + 1  # stopped at the cap (10 MiB), not at 300 MiB
    assert time.perf_counter() - started < 5
    json_headers = {"content-type": "application/json", **api.headers("operator")}
    status, _, read = _asgi(app, "POST", f"{API}/cases", json_headers, 50)
    assert status == 413
    assert read <= 2


def _png_header_only(width: int, height: int, depth: int, colour: int) -> bytes:
    """A PNG whose header claims a huge image (the data is a few bytes)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0)
    idat = zlib.compress(b"\0" * 1024)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_decode_cost_is_bounded_by_pixels_times_bit_depth(api: Api) -> None:
    bomb = _png_header_only(6300, 6300, 16, 2)  # 16-bit RGB: 238 MB to decode
    started = time.perf_counter()
    response = api.client.post(
        f"{API}/photos",
        files={"file": ("bomb.png", bomb, "image/png")},
        headers=api.headers("handler"),
    )
    assert response.status_code == 422, response.text
    assert "decode" in response.json()["error"]["message"]
    assert time.perf_counter() - started < 2


def _photos(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Photo)).scalar_one())


def test_photos_of_a_refused_open311_report_are_not_kept(
    api: Api, app: FastAPI, engine: Engine, session: Session, clock: FixedClock
) -> None:
    key = create_api_key(session, name="attacker", clock=clock).key
    before = _photos(engine)
    files = [("media", (f"p{i}.jpg", jpeg(colour=(i, 9, 9)), "image/jpeg")) for i in range(3)]
    files.append(("media", ("bad.jpg", b"not an image at all", "image/jpeg")))
    data = {"api_key": key, "service_code": "E0102", "lat": "34.03", "long": "113.82"}
    response = api.client.post("/open311/v2/requests.json", data=data, files=files)
    assert response.status_code == 400, response.text
    assert _photos(engine) == before
    root = app.state.settings.photo_root
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file()]


def test_photos_of_a_refused_anonymous_web_report_are_not_kept(
    api: Api, app: FastAPI, engine: Engine
) -> None:
    client = TestClient(app)
    page = client.get("/report")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    before = _photos(engine)
    files = [("photos", (f"p{i}.jpg", jpeg(colour=(i, 1, 1)), "image/jpeg")) for i in range(3)]
    data = {"csrf_token": token, "category": "E0102", "lat": "34.03", "lon": "113.82"}
    response = client.post("/report", data=data, files=files)  # no description: refused
    assert response.status_code == 422
    assert _photos(engine) == before


def _tight(app: FastAPI, **rates: Any) -> None:
    use_policy_limits(app, replace(LimitsPolicy(), **rates))


def test_open311_reports_are_limited_per_address(
    api: Api, app: FastAPI, session: Session, clock: FixedClock
) -> None:
    _tight(app, anonymous_reports_per_ip=Rate(2, 3600))
    key = create_api_key(session, name="flood", clock=clock).key
    data = {"api_key": key, "service_code": "E0102", "lat": "34.03", "long": "113.82"}
    codes = [api.client.post("/open311/v2/requests.json", data=data).status_code for _ in range(3)]
    assert codes[:2] == [200, 200]
    assert codes[2] == 429
    response = api.client.post("/open311/v2/requests.json", data=data)
    assert int(response.headers["Retry-After"]) > 0
    assert response.json()[0]["code"] == 429


def test_uploads_are_limited_per_account(api: Api, app: FastAPI) -> None:
    _tight(app, uploads_per_account=Rate(2, 3600))
    for _ in range(2):
        api.photo("handler")
    response = api.client.post(
        f"{API}/photos",
        files={"file": ("x.jpg", jpeg(), "image/jpeg")},
        headers={**api.headers("handler"), "Accept-Language": "zh-CN"},
    )
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0
    assert "请求过于频繁" in response.json()["error"]["message"]
    api.photo("collector")  # another account goes on


def test_failed_passwords_make_the_next_try_wait_longer(api: Api, app: FastAPI) -> None:
    now = [1000.0]
    limits = RequestLimits(LimitsPolicy(sign_in_failures=Backoff(free=3, base=2, cap=60)))
    limits.sign_in_failures = FailureDelays(limits.policy.sign_in_failures, clock=lambda: now[0])
    app.state.limits = limits

    def sign_in(password: str) -> Any:
        return api.client.post(
            f"{API}/auth/token", data={"username": "dispatcher", "password": password}
        )

    assert [sign_in("wrong-password").status_code for _ in range(3)] == [401] * 3
    refused = sign_in("test-password")  # after 3 failures: wait 2 s, even the right one
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "2"
    now[0] += 2.5
    assert sign_in("wrong-password").status_code == 401  # the 4th: 4 s
    assert sign_in("test-password").headers["Retry-After"] == "4"
    now[0] += 4.5
    assert sign_in("test-password").status_code == 200  # success clears the count
    assert sign_in("wrong-password").status_code == 401


def test_sign_in_is_limited_per_address(api: Api, app: FastAPI) -> None:
    _tight(app, sign_in_per_ip=Rate(3, 600))
    codes = [
        api.client.post(
            f"{API}/auth/token", data={"username": f"nobody{i}", "password": "x" * 8}
        ).status_code
        for i in range(4)
    ]
    assert codes == [401, 401, 401, 429]


def test_the_numbers_are_policy_data() -> None:
    data = shipped_policy_data()
    limits = parse_policy(data).limits
    assert limits.anonymous_reports_per_ip == Rate(30, 3600)
    assert limits.sign_in_per_ip == Rate(60, 600)
    assert limits.body_photos_per_request == 10
    with pytest.raises(PolicyError) as refused:
        parse_policy({**data, "limits": {"rates": {"uploads_per_ip": "lots"}}})
    assert "rate" in refused.value.detail["cause"]  # the parser's words, for the operator


def test_token_buckets_refill_and_stay_bounded() -> None:
    now = [0.0]
    buckets = TokenBuckets(Rate.parse("2/minute"), max_keys=100, clock=lambda: now[0])
    assert [buckets.take("a"), buckets.take("a")] == [0.0, 0.0]
    assert buckets.take("a") == pytest.approx(30.0)
    now[0] += 30
    assert buckets.take("a") == 0.0
    for i in range(1000):
        buckets.take(f"k{i}")
    assert len(buckets._buckets) <= 100
    assert Rate.parse("5/10 minutes") == Rate(5, 600)
    with pytest.raises(ValueError, match="rate"):
        Rate.parse("0/hour")


def test_nothing_large_is_read_into_memory_for_a_json_body(api: Api) -> None:
    body = io.BytesIO(b'{"description": "' + b"x" * (2 * MB) + b'"}')
    response = api.client.post(
        f"{API}/cases",
        content=body.getvalue(),
        headers={**api.headers("operator"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
