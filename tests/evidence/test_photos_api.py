"""``POST /api/v1/photos`` and ``GET /api/v1/photos/{id}``."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from sqlalchemy import Engine, func, select

from duban.app import create_app
from duban.evidence.models import Photo
from tests.factories.evidence import jpeg
from tests.fakes import FixedClock
from tests.http import API, Api, assert_error, make_settings


def upload(
    client: TestClient, headers: dict[str, str], data: bytes, name: str = "p.jpg"
) -> httpx.Response:
    return client.post(
        f"{API}/photos", files={"file": (name, data, "application/octet-stream")}, headers=headers
    )


def noise_jpeg(size: tuple[int, int] = (320, 240)) -> bytes:
    """A JPEG that does not compress well (random pixels, fixed seed)."""
    import random

    rng = random.Random(7)
    raw = bytes(rng.getrandbits(8) for _ in range(size[0] * size[1] * 3))
    buf = io.BytesIO()
    Image.frombytes("RGB", size, raw).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def png_header_only(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width``×``height`` (built without allocating pixels)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


def photo_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Photo)).scalar_one())


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture
def strict_client(
    db_url: str, tmp_path: Path, engine: Engine, clock: FixedClock, api: Api
) -> Iterator[TestClient]:
    """An app with small photo limits: 4096 bytes, 10,000 pixels."""
    settings = make_settings(
        db_url, tmp_path / "strict", max_photo_bytes=4096, max_photo_pixels=10_000
    )
    small: FastAPI = create_app(settings, engine=engine, clock=clock)
    with TestClient(small) as test_client:
        yield test_client


def test_upload_a_jpeg_and_read_it_back(api: Api, app: FastAPI, engine: Engine) -> None:
    data = jpeg(size=(64, 48))
    response = upload(api.client, api.headers("handler"), data)
    assert response.status_code == 201, response.text
    photo = response.json()
    assert photo["content_type"] == "image/jpeg"
    assert (photo["width"], photo["height"]) == (64, 48)
    assert photo["size_bytes"] == len(data)
    assert photo["sha256"] == hashlib.sha256(data).hexdigest()
    assert photo["url"] == f"/api/v1/photos/{photo['id']}"
    assert photo["taken_at"] is None
    assert photo["gps_lat"] is None
    got = api.client.get(photo["url"], headers=api.headers("handler"))
    assert got.status_code == 200
    assert got.content == data
    assert got.headers["content-type"] == "image/jpeg"
    assert photo_count(engine) == 1
    assert len(stored_files(app.state.settings.photo_root)) == 1
    # On no case yet, it is its uploader's alone.
    other = api.client.get(photo["url"], headers=api.headers("citizen"))
    assert other.status_code == 404


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("WEBP", "image/webp")])
def test_png_and_webp_are_accepted(api: Api, fmt: str, mime: str) -> None:
    buf = io.BytesIO()
    Image.new("RGB", (30, 20), (1, 2, 3)).save(buf, fmt)
    response = upload(api.client, api.headers("citizen"), buf.getvalue(), "p.bin")
    assert response.status_code == 201, response.text
    assert response.json()["content_type"] == mime
    assert (response.json()["width"], response.json()["height"]) == (30, 20)


def test_exif_capture_time_and_gps_are_read(api: Api) -> None:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:11:23 10:15:30"
    exif[ExifTags.Base.DateTime] = "2026:11:20 08:00:00"  # edited later: not the capture
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (34.0, 1.0, 48.0)
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = (113.0, 49.0, 12.0)
    response = upload(api.client, api.headers("handler"), jpeg(exif=exif))
    assert response.status_code == 201, response.text
    photo = response.json()
    assert photo["taken_at"] == "2026-11-23T10:15:30+08:00"  # EXIF is city time
    assert photo["gps_lat"] == pytest.approx(34.03)
    assert photo["gps_lon"] == pytest.approx(113.82)


def _truncated_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (120, 80), (9, 9, 9)).save(buf, "PNG")
    return buf.getvalue()[:-30]


def _gif() -> bytes:
    buf = io.BytesIO()
    Image.new("P", (10, 10)).save(buf, "GIF")
    return buf.getvalue()


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        ("这不是图片，只是一段文字\n".encode() * 20, "not a readable image"),
        (b"%PDF-1.7\n" + b"0" * 2000, "not a readable image"),
        (noise_jpeg()[:6000], "not a readable image"),  # cut in the middle of the scan
        (noise_jpeg()[:-2], "not a readable image"),  # only the end marker missing
        (_truncated_png(), "not a readable image"),
        (_gif(), "unsupported image format GIF"),
        (png_header_only(9000, 9000), "limit is 40000000"),
        (png_header_only(20000, 20000), "not a readable image"),
    ],
    ids=[
        "empty",
        "text",
        "pdf",
        "truncated-jpeg",
        "jpeg-without-end",
        "truncated-png",
        "gif",
        "9000x9000",
        "decompression-bomb",
    ],
)
def test_bad_uploads_are_422_and_store_nothing(
    api: Api, app: FastAPI, engine: Engine, data: bytes, words: str
) -> None:
    response = upload(api.client, api.headers("handler"), data)
    error = assert_error(response, 422, "invalid_input")
    assert error["detail"]["field"] == "file"
    assert words in error["message"], error["message"]
    assert photo_count(engine) == 0
    assert stored_files(app.state.settings.photo_root) == []


def test_file_over_the_byte_limit_is_422(strict_client: TestClient, api: Api) -> None:
    data = noise_jpeg((80, 60))
    assert len(data) > 4096
    response = upload(strict_client, api.headers("handler"), data)
    error = assert_error(response, 422, "invalid_input")
    assert "4096 bytes" in error["message"]
    small = jpeg(size=(40, 30))
    assert len(small) <= 4096
    assert upload(strict_client, api.headers("handler"), small).status_code == 201


def test_image_over_the_pixel_limit_is_422(
    strict_client: TestClient, api: Api, engine: Engine
) -> None:
    data = jpeg(size=(101, 100))  # 10,100 pixels, small file
    assert len(data) <= 4096
    response = upload(strict_client, api.headers("handler"), data)
    error = assert_error(response, 422, "invalid_input")
    assert "101×100" in error["message"]
    assert "10000" in error["message"]
    assert upload(strict_client, api.headers("handler"), jpeg(size=(100, 100))).status_code == 201
    assert photo_count(engine) == 1


def test_upload_needs_the_file_field(api: Api) -> None:
    response = api.client.post(
        f"{API}/photos", files={"photo": ("p.jpg", jpeg())}, headers=api.headers("handler")
    )
    error = assert_error(response, 422, "invalid_input")
    assert "file" in {f["field"] for f in error["detail"]["fields"]}


def test_the_same_photo_uploaded_twice_is_kept_once(api: Api, app: FastAPI) -> None:
    data = jpeg()
    a = upload(api.client, api.headers("handler"), data).json()
    b = upload(api.client, api.headers("handler2"), data).json()
    assert a["id"] != b["id"]
    assert a["sha256"] == b["sha256"]
    assert len(stored_files(app.state.settings.photo_root)) == 1
    assert api.client.get(b["url"], headers=api.headers("admin")).content == data


def _feedback_fails(api: Api, case: dict[str, Any]) -> dict[str, set[str]]:
    evidence = api.get(f"/cases/{case['id']}/evidence", "shift_lead").json()
    return {
        f["photo"]: {x["check"] for x in f["findings"] if x["result"] == "fail"}
        for f in evidence["feedback"]
    }


def test_feedback_flags_doubtful_after_photos(api: Api) -> None:
    before = jpeg(colour=(5, 5, 5))
    before_id = upload(api.client, api.headers("citizen"), before).json()["id"]
    case = api.report("citizen", source="citizen", photo_ids=[before_id])
    api.act(case["id"], "assign", "operator", collector="collector")
    api.act(case["id"], "verify", "collector")
    api.act(case["id"], "file", "shift_lead")
    api.act(case["id"], "dispatch", "dispatcher", unit="SZGC")
    api.act(case["id"], "accept", "handler")
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.DateTimeOriginal] = "2026:11:22 16:00:00"
    old = upload(api.client, api.headers("handler"), jpeg(exif=exif)).json()["id"]
    same = upload(api.client, api.headers("handler"), before).json()["id"]
    done = api.act(case["id"], "feedback", "handler", photo_ids=[old, same])
    fails = _feedback_fails(api, done)
    assert "time" in fails[old]  # taken before dispatch
    assert "reused" in fails[same]  # the before-photo again
    assert done["events"][-1]["payload"]["verdict"] == "fail"
    assert done["status"] == "awaiting_check"  # findings inform people; they decide
