"""The pure rules: bands and distances, policy per category, verdicts, sentences."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from duban.photochecks.messages import EN, ZH, sentence
from duban.photochecks.prints import Meta, bands, hamming, to_signed, to_unsigned
from duban.photochecks.rules import (
    Check,
    Result,
    ReworkReason,
    Thresholds,
    Verdict,
    camera_sizes,
    cameras_from,
    check_original,
    check_place,
    suggested_rework,
    thresholds_from,
    verdict,
)
from tests.fakes import SHANGHAI

NOW = datetime(2026, 11, 23, 1, 0, tzinfo=UTC)


@given(st.integers(0, 2**64 - 1), st.sets(st.integers(0, 63), max_size=3))
def test_hashes_within_three_bits_share_a_band(value: int, flips: set[int]) -> None:
    other = value
    for bit in flips:
        other ^= 1 << bit
    assert hamming(to_signed(value), to_signed(other)) == len(flips)
    assert any(a == b for a, b in zip(bands(value), bands(other), strict=True))
    assert to_unsigned(to_signed(value)) == value
    assert -(2**63) <= to_signed(value) < 2**63


def test_a_category_overrides_the_defaults_by_prefix() -> None:
    data = {
        "defaults": {"place_radius_m": 150, "fail_blocks": False},
        "categories": {"E01": {"place_radius_m": 50}, "E0102": {"fail_blocks": True}},
    }
    t = thresholds_from(data, "E0102")
    assert (t.place_radius_m, t.fail_blocks) == (50, True)
    assert thresholds_from(data, "A01").place_radius_m == 150
    with pytest.raises(ValueError, match="unknown"):
        thresholds_from({"defaults": {"radius": 1}}, "E01")


def test_the_shipped_policy_loads() -> None:
    from duban.photochecks.checks import thresholds_for

    assert thresholds_for("E0102").checks == frozenset(Check)


def test_verdicts_and_suggested_reasons() -> None:
    assert verdict([Result.PASS, Result.SKIPPED]) == Verdict.PASS
    assert verdict([Result.PASS, Result.WARN]) == Verdict.NEEDS_LOOK
    assert verdict([Result.WARN, Result.FAIL]) == Verdict.FAIL
    assert suggested_rework([("place", "warn"), ("reused", "fail")]) == ReworkReason.REUSED_PHOTO
    assert suggested_rework([("original", "pass")]) == ReworkReason.NOT_FIXED


def test_place_and_screenshots() -> None:
    t = Thresholds()
    assert check_place((34.03, 113.82), t, case_lat=34.03, case_lon=113.82).result == Result.PASS
    far = check_place((34.033, 113.82), t, case_lat=34.03, case_lon=113.82)  # ≈ 333 m
    assert (far.result, far.values["metres"]) == (Result.FAIL, 334)
    shot = Meta(format="PNG", width=1080, height=2340)
    assert check_original(shot, t, tz=SHANGHAI, now=NOW).reason == "screenshot_png"
    tagged = Meta(format="JPEG", width=1, height=1, has_exif=True, user_comment="Screenshot")
    assert check_original(tagged, t, tz=SHANGHAI, now=NOW).reason == "screenshot"
    resized = Meta(
        format="JPEG", width=1000, height=750, has_exif=True, make="Xiaomi",
        exif_width=4000, exif_height=3000,
    )  # fmt: skip
    assert check_original(resized, t, tz=SHANGHAI, now=NOW).reason == "resized"


def _shipped_cameras() -> dict[str, list[tuple[int, int]]]:
    from duban.photochecks.checks import _policy_data

    return cameras_from(_policy_data())


def _phone(make: str, model: str, w: int, h: int, **kw: object) -> Meta:
    return Meta(format="JPEG", width=w, height=h, has_exif=True, make=make, model=model, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("meta", "reason", "sentence_en"),
    [
        # What the phone wrote (sizes seen in published EXIF), either orientation: original.
        (_phone("Apple", "iPhone 7 Plus", 3024, 4032), "original", None),
        (_phone("samsung", "SM-G935F", 4032, 2268), "original", None),
        # Full-screen shapes real phones write, which a table by brand called cropped:
        (_phone("Xiaomi", "M2102J20SG", 4000, 1800), "original", None),
        (_phone("HUAWEI", "DRA-LX3", 1632, 3264), "original", None),
        # Another shape of a known model says nothing (a 4:3 photo of the 16:9-only entry).
        (_phone("samsung", "SM-G935F", 4032, 3024), "original", None),
        # The same shape smaller, though EXIF claims that very size: resized by an app.
        (
            _phone("samsung", "SM-A326U", 2000, 1500, exif_width=2000, exif_height=1500),
            "resized_device",
            "Resized: a samsung SM-A326U takes 4000×3000, this file is 2000×1500 (50 % of it).",
        ),
        (_phone("Apple", "iPhone 7", 1512, 2016), "resized_device", "takes 4032×3024"),
        (_phone("samsung", "SM-G935F", 2016, 1134), "resized_device", "takes 4032×2268"),
        # A brand alone is not a key: an unknown Samsung's size is not judged by the table.
        (_phone("samsung", "SM-S918B", 4080, 3060), "original", None),
        # A camera the table does not know, at a chat app's size.
        (_phone("Duban", "TestCam", 1280, 960), "resized_chat", "long side 1280"),
        (_phone("Duban", "TestCam", 4000, 3000), "original", None),
    ],
)
def test_dimensions_against_the_device(meta: Meta, reason: str, sentence_en: str | None) -> None:
    """The *original* check knows sizes phone models were seen writing (policy data, each
    with its source) and the sizes apps shrink to; a resized copy is flagged with a reason
    a person can read, and a real original of another shape is not."""
    found = check_original(meta, Thresholds(), tz=SHANGHAI, now=NOW, cameras=_shipped_cameras())
    assert found.reason == reason
    if sentence_en is not None:
        assert found.result == Result.WARN
        assert sentence_en in sentence(found.reason, found.values, "en")
        assert "{" not in sentence(found.reason, found.values, "zh")


def test_every_camera_entry_names_its_source() -> None:
    from duban.photochecks.checks import _policy_data

    table = _policy_data()["cameras"]
    assert table, "the table is data"
    for key, entry in table.items():
        assert key == key.lower(), key
        assert " " in key, f"{key}: make and model, not a brand alone"
        assert entry["sizes"], key
        assert len(entry["source"]) > 20, key
    with pytest.raises(ValueError, match="source"):
        cameras_from({"cameras": {"acme x1": {"sizes": [[4000, 3000]]}}})


def test_the_camera_table_matches_make_and_model_by_their_start() -> None:
    cameras = {"huawei": [(4096, 3072)], "huawei mate 60": [(5000, 3750)], "apple iphone": []}
    assert camera_sizes(cameras, "HUAWEI", "P60") == [(4096, 3072)]
    assert camera_sizes(cameras, "HUAWEI", "HUAWEI Mate 60 Pro") == [(5000, 3750)]
    assert camera_sizes(cameras, "Canon", "EOS R5") == []
    assert camera_sizes(cameras, None, None) == []


def test_every_reason_reads_in_both_languages() -> None:
    assert EN.keys() == ZH.keys()
    assert (
        sentence("far", {"metres": 400, "radius": 150}, "zh")
        == "拍摄地点距案件400米（允许150米）。"
    )
    assert sentence("far", {}, "en")  # a missing value leaves the template, never raises
