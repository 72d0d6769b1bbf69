"""The checks as pure rules: a photo's print and its case's facts in, findings out.

Each finding names its check, a result (``pass``, ``warn``, ``fail`` or ``skipped``) and a
reason: a code with values, which :mod:`duban.photochecks.messages` turns into a sentence
in Chinese or English. Thresholds come from the policy (``data/photochecks.yaml``), per
category. A machine finds; the checker decides (the verdict only prefills the rework
reason and, where the policy says so, stops a feedback that fails).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Final
from zoneinfo import ZoneInfo

from duban.photochecks.prints import Meta


class Check(StrEnum):
    ORIGINAL = "original"
    TIME = "time"
    PLACE = "place"
    REUSED = "reused"
    SAME_SCENE = "same_scene"


class Result(StrEnum):
    PASS = "pass"
    WARN = "warn"
    FAIL = "fail"
    SKIPPED = "skipped"


class Verdict(StrEnum):
    PASS = "pass"
    NEEDS_LOOK = "needs_look"
    FAIL = "fail"


class ReworkReason(StrEnum):
    """Why a fix is sent back (返工原因), seed 004."""

    NOT_FIXED = "not_fixed"  # 整改不到位
    WRONG_ANGLE = "wrong_angle"  # 整改图片与问题图片角度不一致
    NOT_ORIGINAL = "not_original"  # 上传图片非原图
    WRONG_PLACE = "wrong_place"  # 拍摄地点不符
    REUSED_PHOTO = "reused_photo"  # 重复使用图片
    OTHER = "other"  # 其他


#: The rework reason a failing check suggests.
REASON_OF_CHECK: Final = {
    Check.ORIGINAL: ReworkReason.NOT_ORIGINAL,
    Check.TIME: ReworkReason.NOT_ORIGINAL,
    Check.PLACE: ReworkReason.WRONG_PLACE,
    Check.REUSED: ReworkReason.REUSED_PHOTO,
    Check.SAME_SCENE: ReworkReason.WRONG_ANGLE,
}

#: Software tags of editors and beautifiers (lower case, matched as substrings).
EDITORS: Final = (
    "photoshop", "lightroom", "gimp", "snapseed", "picsart", "vsco", "meitu", "美图",
    "醒图", "facetune", "pixlr", "canva", "affinity", "paint.net", "inshot", "remini",
    "pillow", "imagemagick", "photoscape", "fotor", "polarr", "ps express",
)  # fmt: skip


@dataclass(frozen=True)
class Finding:
    check: Check
    result: Result
    reason: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Thresholds:
    """One category's policy (see ``data/photochecks.yaml``)."""

    checks: frozenset[Check] = frozenset(Check)
    fail_blocks: bool = False
    time_tolerance_minutes: float = 10.0
    place_radius_m: float = 150.0
    place_warn_radius_m: float = 300.0
    reuse_max_distance: int = 10
    same_as_before_max_distance: int = 2
    scene_pass_inliers: int = 20
    scene_warn_inliers: int = 10
    min_jpeg_quality: int = 70
    resized_long_sides: tuple[int, ...] = (1080, 1280, 1440, 1600, 1920, 2048, 2560)
    copy_max_distance: int = 20
    copy_min_inliers: int = 20
    copy_min_share: float = 0.4
    copy_max_rotation: float = 0.5


#: The sizes phone cameras write, by the start of "Make Model" in lower case (policy data:
#: ``cameras`` in ``data/photochecks.yaml``).
Cameras = Mapping[str, Sequence[tuple[int, int]]]


def camera_sizes(cameras: Cameras, make: str | None, model: str | None) -> list[tuple[int, int]]:
    """The sizes (long, short) the camera named in EXIF writes; empty if it is not known.
    "Make Model" is matched by its start, the longest key winning; phones often repeat the
    make in the model ("Apple" "iPhone 14"; "HUAWEI" "HUAWEI P60"), so both are tried."""
    names = [" ".join(x for x in (make, model) if x).lower(), (model or "").lower()]
    best = ""
    for key in cameras:
        k = key.lower()
        if len(k) > len(best) and any(n.startswith(k) for n in names if n):
            best = key
    return [(max(a, b), min(a, b)) for a, b in cameras.get(best, ())] if best else []


def _size_finding(meta: Meta, t: Thresholds, cameras: Cameras) -> Finding | None:
    """Dimensions against the device: a smaller copy of a size the model was seen writing
    (``cameras``), or a size chat apps and galleries shrink photos to."""
    c = Check.ORIGINAL
    device = " ".join(x for x in (meta.make, meta.model) if x)
    long, short = max(meta.width, meta.height), min(meta.width, meta.height)
    actual = f"{meta.width}×{meta.height}"
    sizes = camera_sizes(cameras, meta.make, meta.model)
    if sizes:
        if (long, short) in sizes:
            return None
        for big, small in sizes:  # in the table's order: the usual setting first
            same_shape = abs(long * small - short * big) <= 0.01 * big * small
            if same_shape and long < big:
                return Finding(
                    c,
                    Result.WARN,
                    "resized_device",
                    {
                        "device": device,
                        "expected": f"{big}×{small}",
                        "actual": actual,
                        "percent": round(100 * long / big),
                    },
                )
        # another shape says nothing: the table lists sizes seen, not all a phone writes
    if long in t.resized_long_sides:
        return Finding(c, Result.WARN, "resized_chat", {"actual": actual, "long": long})
    return None


def _parse_exif_time(text: str | None, tz: ZoneInfo) -> datetime | None:
    if not text:
        return None
    try:
        naive = datetime.strptime(text.strip()[:19], "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007
    except ValueError:
        return None
    return naive.replace(tzinfo=tz).astimezone(UTC)


def check_original(
    meta: Meta, t: Thresholds, *, tz: ZoneInfo, now: datetime, cameras: Cameras | None = None
) -> Finding:
    """EXIF present and self-consistent, no editor's tag, not a screenshot, not re-encoded
    or resized (quantisation tables, the size the camera wrote, the sizes the device
    writes: ``cameras``)."""
    c = Check.ORIGINAL
    software = (meta.software or "").lower()
    comment = (meta.user_comment or "").lower()
    if "screenshot" in software or "screenshot" in comment or "截屏" in software:
        return Finding(c, Result.FAIL, "screenshot")
    for editor in EDITORS:
        if editor in software:
            return Finding(c, Result.FAIL, "edited", {"software": meta.software})
    if meta.format == "PNG" and not meta.make:
        return Finding(c, Result.FAIL, "screenshot_png")
    if not meta.has_exif or not (meta.make or meta.model):
        return Finding(c, Result.WARN, "no_exif")
    taken = _parse_exif_time(meta.taken, tz)
    if meta.taken and taken is None:
        return Finding(c, Result.FAIL, "absurd_exif", {"field": "DateTimeOriginal"})
    if taken is not None and (taken.year < 2000 or taken > now + timedelta(days=1)):
        return Finding(c, Result.FAIL, "absurd_exif", {"field": "DateTimeOriginal"})
    modified = _parse_exif_time(meta.modified, tz)
    if taken and modified and abs((modified - taken).total_seconds()) > 120:
        return Finding(
            c,
            Result.WARN,
            "modified_later",
            {"minutes": round(abs((modified - taken).total_seconds()) / 60)},
        )
    if meta.exif_width and meta.exif_height:
        declared = sorted((meta.exif_width, meta.exif_height))
        actual = sorted((meta.width, meta.height))
        if declared != actual:
            return Finding(
                c,
                Result.WARN,
                "resized",
                {
                    "declared": f"{meta.exif_width}×{meta.exif_height}",
                    "actual": f"{meta.width}×{meta.height}",
                },
            )
    sized = _size_finding(meta, t, cameras or {})
    if sized is not None:
        return sized
    if meta.jpeg_quality is not None and meta.jpeg_quality < t.min_jpeg_quality:
        return Finding(c, Result.WARN, "recompressed", {"quality": meta.jpeg_quality})
    return Finding(
        c, Result.PASS, "original", {"device": " ".join(x for x in (meta.make, meta.model) if x)}
    )


def check_time(
    meta: Meta,
    t: Thresholds,
    *,
    tz: ZoneInfo,
    dispatched_at: datetime | None,
    feedback_at: datetime,
) -> Finding:
    """Taken after dispatch and before the feedback, within the tolerance."""
    c = Check.TIME
    taken = _parse_exif_time(meta.taken, tz)
    if taken is None:
        return Finding(c, Result.WARN, "no_time")
    slack = timedelta(minutes=t.time_tolerance_minutes)
    shown = taken.astimezone(tz).strftime("%Y-%m-%d %H:%M")
    if dispatched_at is not None and taken < dispatched_at - slack:
        return Finding(c, Result.FAIL, "before_dispatch", {"taken": shown})
    if taken > feedback_at + slack:
        return Finding(c, Result.FAIL, "after_feedback", {"taken": shown})
    return Finding(c, Result.PASS, "in_time", {"taken": shown})


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres (haversine)."""
    r = 6_371_008.8
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(min(1.0, math.sqrt(h)))


def check_place(
    gps: tuple[float, float] | None, t: Thresholds, *, case_lat: float, case_lon: float
) -> Finding:
    """EXIF GPS within the category's radius of the case."""
    c = Check.PLACE
    if gps is None:
        return Finding(c, Result.WARN, "no_gps")
    metres = round(distance_m(gps[0], gps[1], case_lat, case_lon))
    if metres <= t.place_radius_m:
        return Finding(c, Result.PASS, "near", {"metres": metres})
    result = Result.WARN if metres <= t.place_warn_radius_m else Result.FAIL
    return Finding(c, result, "far", {"metres": metres, "radius": round(t.place_radius_m)})


@dataclass(frozen=True)
class Neighbour:
    """Another photo whose hash is near: where it is used (a case code, or none)."""

    photo_id: str
    distance: int
    case_code: str | None
    same_case_before: bool = False
    #: Farther by hash, but its features line up with this photo's as a crop or resized
    #: copy's do (ORB, a similarity transform): the same picture, cropped.
    copy_inliers: int | None = None


def check_reused(neighbours: Iterable[Neighbour], t: Thresholds, *, flat: bool = False) -> Finding:
    """No other photo in the city has (nearly) the same perceptual hash."""
    c = Check.REUSED
    if flat:
        return Finding(c, Result.SKIPPED, "flat")
    # The case's own before-photo shows the same place: only a (near) copy of it counts.
    near = sorted(
        (
            n
            for n in neighbours
            if n.copy_inliers is not None
            or n.distance
            <= (t.same_as_before_max_distance if n.same_case_before else t.reuse_max_distance)
        ),
        key=lambda n: (n.copy_inliers is not None, n.distance),
    )
    if not near:
        return Finding(c, Result.PASS, "unique")
    first = near[0]
    if first.same_case_before:
        return Finding(
            c, Result.FAIL, "same_as_before", {"distance": first.distance, "photo": first.photo_id}
        )
    if first.copy_inliers is not None:
        return Finding(
            c,
            Result.FAIL,
            "reused_copy",
            {
                "distance": first.distance,
                "photo": first.photo_id,
                "case": first.case_code or "-",
                "inliers": first.copy_inliers,
            },
        )
    return Finding(
        c,
        Result.FAIL,
        "reused",
        {"distance": first.distance, "photo": first.photo_id, "case": first.case_code or "-"},
    )


def check_same_scene(best_inliers: int | None, t: Thresholds, *, before: str | None) -> Finding:
    """The after-photo shows the before-photo's place (ORB + RANSAC inliers)."""
    c = Check.SAME_SCENE
    if best_inliers is None:
        return Finding(c, Result.SKIPPED, "no_before")
    values = {"inliers": best_inliers, "before": before}
    if best_inliers >= t.scene_pass_inliers:
        return Finding(c, Result.PASS, "same_scene", values)
    if best_inliers >= t.scene_warn_inliers:
        return Finding(c, Result.WARN, "maybe_scene", values)
    return Finding(c, Result.FAIL, "other_scene", values)


def verdict(results: Iterable[Result]) -> Verdict:
    """Any fail → fail; any warn → needs a look; else pass (skipped checks count for nothing)."""
    seen = set(results)
    if Result.FAIL in seen:
        return Verdict.FAIL
    if Result.WARN in seen:
        return Verdict.NEEDS_LOOK
    return Verdict.PASS


def suggested_rework(findings: Sequence[tuple[str, str]]) -> ReworkReason:
    """The rework reason the findings point to: ``(check, result)`` pairs, fails first."""
    for wanted in (Result.FAIL, Result.WARN):
        for check, result in findings:
            if result == wanted and check in REASON_OF_CHECK:
                return REASON_OF_CHECK[Check(check)]
    return ReworkReason.NOT_FIXED


def cameras_from(data: Mapping[str, Any]) -> dict[str, list[tuple[int, int]]]:
    """The ``cameras`` table of the policy: each model's sizes as (long, short) pairs
    (its ``source`` is for people: where the sizes were seen)."""
    table = data.get("cameras") or {}
    out: dict[str, list[tuple[int, int]]] = {}
    for key, entry in table.items():
        if not isinstance(entry, Mapping) or not entry.get("source"):
            raise ValueError(f"camera {key!r}: give sizes and the source they were seen in")
        out[str(key)] = [(int(a), int(b)) for a, b in entry.get("sizes") or ()]
    return out


def thresholds_from(data: Mapping[str, Any], category: str) -> Thresholds:
    """The policy of ``category``: the defaults, overridden by its own entry (or its
    parent's: the first entry whose code prefixes the category's)."""
    merged: dict[str, Any] = dict(data.get("defaults") or {})
    per = data.get("categories") or {}
    for code in sorted((c for c in per if category.startswith(str(c))), key=len):
        merged.update(per[code] or {})
    checks = merged.pop("checks", None)
    known = Thresholds.__dataclass_fields__
    unknown = set(merged) - set(known)
    if unknown:
        raise ValueError(f"unknown photo-check settings: {sorted(unknown)}")
    if "resized_long_sides" in merged:
        merged["resized_long_sides"] = tuple(int(x) for x in merged["resized_long_sides"] or ())
    out = Thresholds(**merged)
    if checks is not None:
        out = Thresholds(**{**out.__dict__, "checks": frozenset(Check(x) for x in checks)})
    return out
