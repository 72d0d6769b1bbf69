"""The photo store on both adapters: content addresses, HEIC, orientation, public copies
and thumbnails without EXIF, and hostile files refused before anything is stored."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import ExifTags, Image
from pillow_heif import register_heif_opener
from sqlalchemy import select

from duban.adapters.photostore import LocalPhotoStore, S3PhotoStore
from duban.evidence.photos import PhotoLimits, save_photo
from duban.evidence.public import PUBLIC_PREFIX, public_photo_bytes, thumbnail_bytes
from duban.kernel.errors import InvalidInput
from duban.photochecks.models import PhotoPrint
from duban.photochecks.prints import Meta
from duban.photochecks.rules import Result, Thresholds, check_original
from tests.factories.photochecks import phone_exif, phone_jpeg, scene, to_jpeg
from tests.factories.world import World
from tests.fakes import SHANGHAI

register_heif_opener()
Store = LocalPhotoStore | S3PhotoStore
LIMITS = PhotoLimits(10_000_000, 40_000_000)


def save(world: World, store: Store, data: bytes, limits: PhotoLimits = LIMITS) -> str:
    photo = save_photo(
        world.session,
        actor=world.actor("handler"),
        clock=world.clock,
        store=store,
        data=data,
        limits=limits,
        tz=SHANGHAI,
    )
    return photo.id


def test_a_store_keeps_bytes_by_key_and_forgets_them(store: Store) -> None:
    store.put("ab/abc.jpg", b"one")
    store.put("ab/abc.jpg", b"one")  # idempotent
    assert store.get("ab/abc.jpg") == b"one"
    store.delete("ab/abc.jpg")
    store.delete("ab/abc.jpg")  # nothing there: no error
    with pytest.raises(FileNotFoundError):
        store.get("ab/abc.jpg")
    with pytest.raises(ValueError, match="escapes"):
        store.get("../../etc/passwd")


def test_the_same_bytes_are_kept_once_under_their_sha256(world: World, store: Store) -> None:
    from duban.evidence.models import Photo

    data = phone_jpeg(scene("coffee"))
    first, second = save(world, store, data), save(world, store, data)
    a, b = world.session.get(Photo, first), world.session.get(Photo, second)
    assert a is not None
    assert b is not None
    assert a.storage_key == b.storage_key == f"{a.sha256[:2]}/{a.sha256}.jpg"
    assert store.get(a.storage_key) == data
    assert world.session.scalar(select(PhotoPrint).where(PhotoPrint.photo_id == first))


def test_exif_stays_for_staff_and_leaves_public_copies_and_thumbnails(
    world: World, store: Store
) -> None:
    from duban.evidence.models import Photo

    exif = phone_exif(gps=(31.2, 121.4))
    exif[ExifTags.Base.Orientation] = 6  # the phone was held upright: turn 90°
    pid = save(world, store, to_jpeg(scene("rocket"), exif))  # 640×427 as stored
    photo = world.session.get(Photo, pid)
    assert photo is not None
    assert photo.gps_lat == pytest.approx(31.2)
    original = Image.open(io.BytesIO(store.get(photo.storage_key)))
    assert original.getexif()[ExifTags.Base.Make] == "Duban"  # kept for staff
    public = Image.open(io.BytesIO(public_photo_bytes(store, photo)))
    assert not public.getexif()
    assert "exif" not in public.info
    assert public.size == (427, 640)  # upright
    thumb_bytes = thumbnail_bytes(store, photo)
    thumb = Image.open(io.BytesIO(thumb_bytes))
    assert thumb.format == "JPEG"
    assert max(thumb.size) <= 320
    assert thumb.height > thumb.width
    assert not thumb.getexif()
    assert thumbnail_bytes(store, photo) == thumb_bytes  # made once, then read back
    assert store.get(PUBLIC_PREFIX + photo.storage_key)


def test_heic_from_a_phone_is_accepted_and_shown_as_jpeg(world: World, store: Store) -> None:
    from duban.evidence.models import Photo
    from duban.evidence.public import public_content_type

    out = io.BytesIO()
    scene("astronaut").save(out, "HEIF", exif=phone_exif(gps=(31.2, 121.4)).tobytes())
    pid = save(world, store, out.getvalue())
    photo = world.session.get(Photo, pid)
    assert photo is not None
    assert photo.content_type == "image/heic"
    assert photo.storage_key.endswith(".heic")
    assert photo.gps_lat == pytest.approx(31.2)
    public = Image.open(io.BytesIO(public_photo_bytes(store, photo)))
    assert public.format == "JPEG"
    assert not public.getexif()
    assert public_content_type(photo.content_type) == "image/jpeg"


# --------------------------------------------------------------------------- hostile files


def _png_header_only(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        return struct.pack(">I", len(body)) + kind + body + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 1000)  # a few rows: a bomb is all header
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _listing(store: Store) -> list[str]:
    if isinstance(store, LocalPhotoStore):
        root = store.root
        return sorted(str(p) for p in root.rglob("*") if p.is_file()) if root.exists() else []
    answer = store.client.list_objects_v2(Bucket=store.bucket)
    return [o["Key"] for o in answer.get("Contents", [])]


@pytest.mark.parametrize(
    ("name", "make"),
    [
        ("truncated", lambda: phone_jpeg(scene("coffee"))[:5000]),
        ("bomb", lambda: _png_header_only(100_000, 100_000)),
        ("empty", lambda: b""),
        ("html_named_jpg", lambda: b"<html><script>alert(1)</script></html>"),
        ("gif", lambda: _gif()),
    ],
)
def test_hostile_files_are_refused_and_nothing_is_stored(
    world: World, store: Store, name: str, make: object
) -> None:
    with pytest.raises(InvalidInput):
        save(world, store, make())  # type: ignore[operator]
    assert _listing(store) == [], name
    assert world.session.scalars(select(PhotoPrint)).all() == []


def _gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (10, 10)).save(out, "GIF")
    return out.getvalue()


def test_a_polyglot_is_stored_as_the_image_and_served_without_its_payload(
    world: World, store: Store
) -> None:
    from duban.evidence.models import Photo

    payload = b"PK\x03\x04<html><script>alert(1)</script></html>"
    pid = save(world, store, phone_jpeg(scene("chelsea")) + payload)  # JPEG, then a ZIP/HTML
    photo = world.session.get(Photo, pid)
    assert photo is not None
    assert photo.content_type == "image/jpeg"
    assert payload not in public_photo_bytes(store, photo)


def test_a_png_named_jpg_is_stored_as_png(world: World, store: Store) -> None:
    from duban.evidence.models import Photo

    out = io.BytesIO()
    scene("coins").save(out, "PNG")
    photo = world.session.get(Photo, save(world, store, out.getvalue()))
    assert photo is not None
    assert photo.content_type == "image/png"
    assert photo.storage_key.endswith(".png")


def test_absurd_exif_is_accepted_and_found_not_original(world: World, store: Store) -> None:
    exif = phone_exif(taken="9999:99:99 99:99:99")
    g = exif.get_ifd(ExifTags.IFD.GPSInfo)
    g[ExifTags.GPS.GPSLatitudeRef] = "N"
    g[ExifTags.GPS.GPSLatitude] = (500.0, 0.0, 0.0)  # no such latitude
    g[ExifTags.GPS.GPSLongitudeRef] = "E"
    g[ExifTags.GPS.GPSLongitude] = (0.0, 0.0, 0.0)
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.ExifImageWidth] = 4_000_000_000
    pid = save(world, store, to_jpeg(scene("brick"), exif))
    pr = world.session.get(PhotoPrint, pid)
    assert pr is not None
    from duban.evidence.models import Photo

    photo = world.session.get(Photo, pid)
    assert photo is not None
    assert photo.gps_lat is None
    assert photo.taken_at is None
    finding = check_original(
        Meta.from_json(pr.meta), Thresholds(), tz=SHANGHAI, now=world.clock.now()
    )
    assert finding.result == Result.FAIL
    assert finding.reason == "absurd_exif"


def test_a_1_by_50000_image_is_stored_and_thumbnailed(world: World, store: Store) -> None:
    from duban.evidence.models import Photo

    out = io.BytesIO()
    Image.linear_gradient("L").resize((1, 50_000)).save(out, "PNG")
    photo = world.session.get(Photo, save(world, store, out.getvalue()))
    assert photo is not None
    assert (photo.width, photo.height) == (1, 50_000)
    thumb = Image.open(io.BytesIO(thumbnail_bytes(store, photo)))
    assert thumb.height == 320
    assert thumb.width >= 1


def test_the_pixel_limit_is_checked_from_the_header(world: World, store: Store) -> None:
    limits = PhotoLimits(10_000_000, 100_000)
    with pytest.raises(InvalidInput, match="pixels"):
        save(world, store, phone_jpeg(scene("hubble_deep_field")), limits)
    assert _listing(store) == []
