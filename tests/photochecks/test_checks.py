"""The photo checks through the feedback and check actions, on real photographs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import select

from duban.cases.models import Case, CaseEvent
from duban.cases.workflow import Action, CaseStatus
from duban.evidence.photos import save_photo
from duban.kernel.errors import InvalidInput
from duban.photochecks import checks
from duban.photochecks.models import PhotoFinding
from tests.factories.evidence import LIMITS
from tests.factories.photochecks import crop, light, perspective, phone_jpeg, scene
from tests.factories.places import LAT, LON
from tests.factories.world import World
from tests.fakes import SHANGHAI

HERE = (LAT, LON)
NEARBY = (LAT + 0.0005, LON)  # ≈ 55 m north
FAR = (LAT + 0.01, LON)  # ≈ 1.1 km


def upload(world: World, data: bytes, by: str = "handler") -> str:
    assert world.store is not None
    return save_photo(
        world.session,
        actor=world.actor(by),
        clock=world.clock,
        store=world.store,
        data=data,
        limits=LIMITS,
        tz=SHANGHAI,
    ).id


def case_with_before(world: World, image: Image.Image) -> Case:
    before = upload(world, phone_jpeg(image, gps=HERE), by="operator")
    return world.case_in(CaseStatus.HANDLING, photo_ids=[before])


def feedback(world: World, case: Case, data: bytes) -> tuple[str, dict[str, Any]]:
    after = upload(world, data)
    world.act(case, Action.FEEDBACK, "handler", photo_ids=[after])
    found = {
        f.check: (f.result, f.reason)
        for f in world.session.scalars(
            select(PhotoFinding).where(
                PhotoFinding.case_id == case.id, PhotoFinding.photo_id == after
            )
        )
    }
    return after, found


def last_payload(world: World, case: Case) -> dict[str, Any]:
    event = world.session.scalars(
        select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.seq.desc())
    ).first()
    assert event is not None
    data: dict[str, Any] = json.loads(event.payload)
    return data


def test_a_real_fix_from_the_same_standpoint_passes(world: World) -> None:
    case = case_with_before(world, scene("rocket"))
    after = light(perspective(crop(scene("rocket"), 0.9, 0.05), 0.05), 1.2)
    _, found = feedback(world, case, phone_jpeg(after, gps=NEARBY))
    assert found == {
        "original": ("pass", "original"),
        "time": ("pass", "in_time"),
        "place": ("pass", "near"),
        "reused": ("pass", "unique"),
        "same_scene": ("pass", "same_scene"),
    }
    assert last_payload(world, case)["verdict"] == "pass"
    assert case.status == CaseStatus.AWAITING_CHECK


def test_another_scene_far_away_fails_and_suggests_the_rework_reason(world: World) -> None:
    case = case_with_before(world, scene("rocket"))
    _, found = feedback(world, case, phone_jpeg(scene("coffee"), gps=FAR))
    assert found["same_scene"] == ("fail", "other_scene")
    assert found["place"] == ("fail", "far")
    assert last_payload(world, case)["verdict"] == "fail"
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    world.act(case, Action.CHECK, "collector", passed=False, reason="换个角度重拍")
    payload = last_payload(world, case)
    assert payload["rework_reason"] in ("wrong_place", "wrong_angle")
    assert case.status == CaseStatus.HANDLING


def test_the_checker_names_the_rework_reason_and_unknown_codes_are_refused(
    world: World,
) -> None:
    case = case_with_before(world, scene("rocket"))
    feedback(world, case, phone_jpeg(crop(scene("rocket")), gps=HERE))
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    with pytest.raises(InvalidInput, match="rework_reason"):
        world.act(case, Action.CHECK, "collector", passed=False, reason="x", rework_reason="lazy")
    world.session.rollback()
    world.act(
        case, Action.CHECK, "collector", passed=False, reason="没修好", rework_reason="not_fixed"
    )
    assert last_payload(world, case)["rework_reason"] == "not_fixed"


def test_a_photo_used_on_another_case_is_found_through_the_hash_index(world: World) -> None:
    first = case_with_before(world, scene("chelsea"))
    second = case_with_before(world, scene("rocket"))
    feedback(world, first, phone_jpeg(scene("motorcycle"), gps=HERE))
    # The same picture, re-encoded smaller at lower quality, sent again for another case.
    again = scene("motorcycle").resize((500, 337))
    _, found = feedback(world, second, phone_jpeg(again, quality=75, gps=HERE))
    assert found["reused"] == ("fail", "reused")
    world.act(second, Action.ASSIGN, "operator", collector="collector")
    world.act(second, Action.CHECK, "collector", passed=False, reason="重复使用图片")
    assert last_payload(world, second)["rework_reason"] == "reused_photo"


@pytest.mark.parametrize(
    ("name", "copy"),
    [
        ("re-encoded", lambda im: im),  # the same picture, saved again at quality 75
        ("cropped 95 %", lambda im: crop(im, 0.95, 0.025)),
        ("cropped 95 % off one corner", lambda im: crop(im, 0.95, 0.0)),
        ("cropped 90 %", lambda im: crop(im, 0.9, 0.05)),
        # Found since the crop probes (the original's centre hash): beyond one bit per band.
        ("cropped 92 % off one corner", lambda im: crop(im, 0.92, 0.0)),
        ("cropped 85 %", lambda im: crop(im, 0.85, 0.075)),
        # Found since the probes at the edge midpoints and at 80 %.
        ("cropped 80 %", lambda im: crop(im, 0.8, 0.1)),
        (
            "cropped 90 % off the right edge",
            lambda im: im.crop((im.width // 10, im.height // 20, im.width, im.height * 19 // 20)),
        ),
    ],
)
def test_a_re_encoded_or_cropped_photo_of_another_case_is_found(
    world: World, name: str, copy: Any
) -> None:
    """Reuse across the city: the after-photo of one case, re-encoded or slightly cropped,
    sent as the fix of another case far away (issue 16: a match with any other photo)."""
    first = case_with_before(world, scene("chelsea"))
    second = case_with_before(world, scene("rocket"))
    used, _ = feedback(world, first, phone_jpeg(scene("motorcycle"), gps=HERE))
    again = copy(scene("motorcycle"))
    _, found = feedback(world, second, phone_jpeg(again, quality=75, gps=HERE))
    assert found["reused"][0] == "fail", name
    assert found["reused"][1] in ("reused", "reused_copy"), name
    detail = world.session.scalars(
        select(PhotoFinding).where(
            PhotoFinding.case_id == second.id, PhotoFinding.check == "reused"
        )
    ).one()
    assert detail.values["photo"] == used
    assert detail.values["case"] == first.code


@pytest.mark.parametrize("kind", ["perspective", "perspective_strong", "mixed"])
def test_a_new_photo_of_a_place_another_case_showed_is_not_a_reused_photo(
    world: World, kind: str
) -> None:
    """The same corner photographed again (another standpoint, a tilt, other light) for
    a new case there is a new photo, not a copy."""
    from tests.factories.photochecks import POSITIVES

    first = case_with_before(world, scene("chelsea"))
    second = case_with_before(world, scene("rocket"))
    feedback(world, first, phone_jpeg(scene("motorcycle"), gps=HERE))
    new = POSITIVES[kind](scene("motorcycle"))
    _, found = feedback(world, second, phone_jpeg(new, gps=HERE))
    assert found["reused"] == ("pass", "unique"), kind


def test_the_before_photo_sent_back_as_the_after_photo_fails(world: World) -> None:
    case = case_with_before(world, scene("coffee"))
    _, found = feedback(world, case, phone_jpeg(scene("coffee"), gps=HERE))
    assert found["reused"] == ("fail", "same_as_before")


def test_time_and_original_findings(world: World) -> None:
    case = case_with_before(world, scene("rocket"))
    data = phone_jpeg(
        crop(scene("rocket")), gps=HERE, taken="2026:11:20 08:00:00", software="Meitu 9.1"
    )
    _, found = feedback(world, case, data)
    assert found["time"] == ("fail", "before_dispatch")
    assert found["original"] == ("fail", "edited")


@pytest.mark.parametrize(
    ("name", "make", "copy", "quality", "finding"),
    [
        # A model the camera table knows (4000×3000, seen in published EXIF), halved by an
        # app that rewrote the EXIF size too: only the device's sizes tell.
        ("resized", "SM-A326U", lambda im: im.resize((2000, 1500)), 92, "resized_device"),
        # An unknown model at a chat app's size.
        ("chat size", "X-1", lambda im: im.resize((1280, 960)), 92, "resized_chat"),
        # Saved again at a low quality (the quantisation tables say so).
        ("re-encoded", "X-1", lambda im: im, 50, "recompressed"),
        # The model's own size at a good quality: an original.
        ("original", "SM-A326U", lambda im: im.resize((4000, 3000)), 90, "original"),
    ],
)
def test_resized_and_re_encoded_copies_are_flagged(
    world: World, name: str, make: str, copy: Any, quality: int, finding: str
) -> None:
    case = case_with_before(world, scene("rocket"))
    image = copy(scene("rocket"))
    data = phone_jpeg(image, quality=quality, gps=HERE, make="samsung", model=make)
    _, found = feedback(world, case, data)
    assert found["original"] == ("pass" if finding == "original" else "warn", finding), name


def test_a_category_whose_policy_blocks_refuses_failing_feedback(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = case_with_before(world, scene("rocket"))
    data = checks._policy_data()
    blocking = {**data, "categories": {case.category_code: {"fail_blocks": True}}}
    monkeypatch.setattr(checks, "_policy_data", lambda: blocking)
    after = upload(world, phone_jpeg(scene("coffee"), gps=FAR))
    with pytest.raises(InvalidInput, match="does not accept"):
        world.act(case, Action.FEEDBACK, "handler", photo_ids=[after])
    world.session.rollback()
    assert world.session.get(Case, case.id).status == CaseStatus.HANDLING  # type: ignore[union-attr]
    assert world.session.scalars(select(PhotoFinding)).all() == []


def test_a_category_may_switch_checks_off(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    case = case_with_before(world, scene("rocket"))
    data = checks._policy_data()
    lax = {**data, "categories": {case.category_code: {"checks": ["original", "time"]}}}
    monkeypatch.setattr(checks, "_policy_data", lambda: lax)
    _, found = feedback(world, case, phone_jpeg(scene("coffee"), gps=FAR))
    assert found["place"] == ("skipped", "not_run")
    assert found["same_scene"] == ("skipped", "not_run")
    assert last_payload(world, case)["verdict"] == "pass"


def test_passing_a_failed_feedback_is_an_override_with_a_reason(world: World) -> None:
    case = case_with_before(world, scene("rocket"))
    feedback(world, case, phone_jpeg(scene("coffee"), gps=FAR))
    world.act(case, Action.ASSIGN, "operator", collector="collector")
    with pytest.raises(InvalidInput, match="needs a 'reason'"):
        world.act(case, Action.CHECK, "collector", passed=True)
    world.session.rollback()
    world.act(case, Action.CHECK, "collector", passed=True, reason="现场核实已整改，照片角度不同")
    assert last_payload(world, case)["override"] == {
        "verdict": "fail",
        "reason": "现场核实已整改，照片角度不同",
    }
    assert case.status == CaseStatus.CHECKED


def _heic(image: Image.Image) -> bytes:
    import io

    from pillow_heif import register_heif_opener

    from tests.factories.photochecks import phone_exif

    register_heif_opener()
    out = io.BytesIO()
    image.save(out, "HEIF", exif=phone_exif(gps=HERE).tobytes())
    return out.getvalue()


def _strip() -> bytes:
    import io

    out = io.BytesIO()
    Image.linear_gradient("L").resize((1, 50_000)).save(out, "PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "scene_result"),
    [
        # A phone's HEIC of the same corner: printed and matched like a JPEG.
        ("heic", lambda: _heic(crop(scene("rocket"))), "pass"),
        # 1×50,000: no room for features or a centre hash; every check still answers (the
        # scene cannot be judged: skipped, and the verdict leaves it to the checker).
        ("1x50000", _strip, "skipped"),
        # One colour (a lens cap): its hash says nothing; the same file is found by SHA-256.
        ("flat", lambda: phone_jpeg(Image.new("RGB", (640, 480), (90,) * 3), gps=HERE), "skipped"),
    ],
)
def test_odd_but_valid_photos_go_through_every_check(
    world: World, name: str, make: Any, scene_result: str
) -> None:
    case = case_with_before(world, scene("rocket"))
    other = case_with_before(world, scene("coffee"))
    feedback(world, other, make())  # the same odd bytes used before elsewhere, then again:
    _, found = feedback(world, case, make())
    assert set(found) == {"original", "time", "place", "reused", "same_scene"}, name
    assert found["same_scene"][0] == scene_result, name
    assert found["reused"][0] == "fail", name  # the same file (SHA-256) on another case
