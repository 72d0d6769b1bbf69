"""Calibrate the same-scene and reuse checks on a labelled set of real photographs.

    python bench/calibrate_photochecks.py            # same scene and reuse by hash
    python bench/calibrate_photochecks.py --copies   # reuse of cropped copies

The set is built from the photographs scikit-image ships (tests/factories/photochecks.py):
each scene is a before-photo; its positives are the same scene seen again (crops, rotations
of 5° and 15°, perspective as from a step aside, darker and brighter light, zoom, and all of
these mixed); its negatives are every other scene. Every pair goes through the real code:
JPEG bytes → ``take_print`` (decode at reduced scale, ORB, pHash) → ``match_scene`` (ratio
test + RANSAC homography) or the Hamming distance of the hashes.

For the reuse check the positives are copies of the same picture as people re-send them
(re-encoded at quality 60, halved, slightly brighter, 95 % crop, sent through a chat app:
halved and quality 70), the negatives the other scenes and the same scene's new views
above (a new photo of the same place is not a reused photo).

Prints precision and recall per threshold and the thresholds chosen (the smallest one with
precision 1.0 on this set for *pass*, the highest recall at precision ≥ 0.95 for *warn*);
they go into src/duban/data/photochecks.yaml and BENCHMARKS.md.
"""

from __future__ import annotations

import io
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for extra in (ROOT / "src", ROOT):
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

from PIL import Image, ImageEnhance  # noqa: E402
from tests.factories.photochecks import POSITIVES, SCENES, phone_jpeg, scene  # noqa: E402

from duban.photochecks.prints import (  # noqa: E402
    Print,
    bands,
    hamming,
    match_copy,
    match_scene,
    take_print,
)
from duban.photochecks.rules import Thresholds  # noqa: E402


def _print(image: Image.Image, quality: int = 92) -> Print:
    return take_print(phone_jpeg(image, quality=quality))


def _jpeg_again(image: Image.Image, quality: int) -> Image.Image:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    return Image.open(io.BytesIO(out.getvalue())).convert("RGB")


REUSES = {
    "q60": lambda im: _jpeg_again(im, 60),
    "half": lambda im: im.resize((im.width // 2, im.height // 2)),
    "brighter": lambda im: ImageEnhance.Brightness(im).enhance(1.1),
    "crop95": lambda im: im.crop((0, 0, int(im.width * 0.95), int(im.height * 0.95))),
    "chat_app": lambda im: _jpeg_again(im.resize((im.width // 2, im.height // 2)), 70),
}


#: New photos of the same place from another standpoint: not reused pictures. (A copy only
#: brightened or zoomed is indistinguishable from an edited copy: left out of both sides.)
NEW_VIEWS = ("crop_half", "rotate_15", "perspective_strong", "mixed")


@dataclass
class Labelled:
    scene_pos: list[int]
    scene_neg: list[int]
    reuse_pos: list[int]
    reuse_neg: list[int]
    by_kind: dict[str, list[int]]
    indexed: list[bool]  # per reuse positive: does the band index find it at all?


def build() -> Labelled:
    prints = {name: _print(scene(name)) for name in SCENES}
    out = Labelled([], [], [], [], {}, [])
    for name in SCENES:
        base = prints[name]
        for kind, transform in POSITIVES.items():
            other = _print(transform(scene(name)))
            out.scene_pos.append(_inliers(base, other))
            out.by_kind.setdefault(kind, []).append(out.scene_pos[-1])
            if kind in NEW_VIEWS:
                out.reuse_neg.append(hamming(base.phash, other.phash))
                out.by_kind.setdefault("new view " + kind, []).append(out.reuse_neg[-1])
        for kind, transform in REUSES.items():
            copy = _print(transform(scene(name)), quality=85)
            out.reuse_pos.append(hamming(base.phash, copy.phash))
            shared = any(a == b for a, b in zip(bands(base.phash), bands(copy.phash), strict=True))
            out.indexed.append(shared)
            out.by_kind.setdefault("copy " + kind, []).append(out.reuse_pos[-1])
        for other_name in SCENES:
            if other_name != name:
                other = prints[other_name]
                out.scene_neg.append(_inliers(base, other))
                out.reuse_neg.append(hamming(base.phash, other.phash))
    return out


def _inliers(a: Print, b: Print) -> int:
    return match_scene(b.keypoints, b.descriptors, a.keypoints, a.descriptors).inliers


def precision_recall(
    pos: list[int], neg: list[int], threshold: int, *, above: bool
) -> tuple[float, float]:
    hit = (lambda v: v >= threshold) if above else (lambda v: v <= threshold)
    tp = sum(1 for v in pos if hit(v))
    fp = sum(1 for v in neg if hit(v))
    precision = tp / (tp + fp) if tp + fp else 1.0
    return precision, tp / len(pos)


def choose(pos: list[int], neg: list[int], candidates: range, *, above: bool) -> tuple[int, int]:
    """(pass threshold: best recall at precision 1.0; warn threshold: best recall at ≥ 0.95)."""

    def best(min_precision: float) -> int:
        scored = [
            (precision_recall(pos, neg, t, above=above), t)
            for t in candidates
            if precision_recall(pos, neg, t, above=above)[0] >= min_precision
        ]
        if not scored:
            return candidates[0] if above else -1
        return max(scored, key=lambda s: (s[0][1], s[0][0]))[1]

    return best(1.0), best(0.95)


#: Crops of the same picture (the reuse check's hardest copies), beside REUSES' crop95.
CROPS = {
    "crop95_centre": lambda im: im.crop(
        (
            int(im.width * 0.025),
            int(im.height * 0.025),
            int(im.width * 0.975),
            int(im.height * 0.975),
        )
    ),
    "crop92_corner": lambda im: im.crop((0, 0, int(im.width * 0.92), int(im.height * 0.92))),
    "crop92_far_corner": lambda im: im.crop(
        (int(im.width * 0.08), int(im.height * 0.08), im.width, im.height)
    ),
    "crop88_top_edge": lambda im: im.crop(
        (int(im.width * 0.06), 0, int(im.width * 0.94), int(im.height * 0.88))
    ),
    "crop85_centre": lambda im: im.crop(
        (
            int(im.width * 0.075),
            int(im.height * 0.075),
            int(im.width * 0.925),
            int(im.height * 0.925),
        )
    ),
    "crop80_corner": lambda im: im.crop((0, 0, int(im.width * 0.8), int(im.height * 0.8))),
    "crop80_centre": lambda im: im.crop(
        (int(im.width * 0.1), int(im.height * 0.1), int(im.width * 0.9), int(im.height * 0.9))
    ),
    # at an edge: the whole height or width kept on one side, the rest cut from the others
    "crop80_left_edge": lambda im: im.crop(
        (0, int(im.height * 0.1), int(im.width * 0.8), int(im.height * 0.9))
    ),
    "crop85_bottom_edge": lambda im: im.crop(
        (int(im.width * 0.075), int(im.height * 0.15), int(im.width * 0.925), im.height)
    ),
    "crop90_right_edge": lambda im: im.crop(
        (int(im.width * 0.1), int(im.height * 0.05), im.width, int(im.height * 0.95))
    ),
    "crop95_left_edge": lambda im: im.crop(
        (0, int(im.height * 0.025), int(im.width * 0.95), int(im.height * 0.975))
    ),
    "crop90_centre": lambda im: im.crop(
        (int(im.width * 0.05), int(im.height * 0.05), int(im.width * 0.95), int(im.height * 0.95))
    ),
}


def copies() -> None:
    """The reuse rule as the check runs it: a candidate from the band index (exact band,
    or with probing: a band within one bit), then Hamming ≤ reuse_max_distance, or
    ≤ copy_max_distance and a copy by features (``match_copy``). Recall per kind of copy,
    and the false matches among new views of the same place and other scenes."""
    t = Thresholds()
    prints = {name: _print(scene(name)) for name in SCENES}

    def verdicts(base: Print, other: Print) -> tuple[bool, bool, bool, bool]:
        d = hamming(base.phash, other.phash)
        near_band = min(
            (a ^ b).bit_count() for a, b in zip(bands(base.phash), bands(other.phash), strict=True)
        )
        # the crop probes: a probe sharing a band of the stored photo's centre hash
        probe_d = min((hamming(p, base.chash) for p in other.probes), default=64)
        probed = base.chash is not None and any(
            a == b for p in other.probes for a, b in zip(bands(p), bands(base.chash), strict=True)
        )
        m = match_copy(other.keypoints, other.descriptors, base.keypoints, base.descriptors)
        features = m.is_copy(
            min_inliers=t.copy_min_inliers,
            min_share=t.copy_min_share,
            max_rotation=t.copy_max_rotation,
        )
        copy = d <= t.copy_max_distance and features
        hit = d <= t.reuse_max_distance or copy
        # what the check runs now: the whole hash by an exact band, or else a crop probe's
        # candidate, within reach and a copy by features
        by_whole = near_band == 0 and (d <= t.reuse_max_distance or copy)
        by_crop = probed and probe_d <= t.copy_max_distance and features
        return hit, hit and near_band == 0, hit and near_band <= 1, by_whole or by_crop

    print("\nreuse with crops: found (no index limit / exact band / probing one bit /")
    print("exact band + crop probes, what the check runs)")
    for kind, transform in {**REUSES, **CROPS}.items():
        found = [verdicts(prints[n], _print(transform(scene(n)), quality=75)) for n in SCENES]
        cols = [sum(f[i] for f in found) for i in range(4)]
        print(f"  {kind:<16} " + "  ".join(f"{c:>2}/{len(found)}" for c in cols))
    false = [0, 0, 0, 0]
    total = 0
    for name in SCENES:
        others = [
            _print(POSITIVES[k](scene(name))) for k in (*NEW_VIEWS, "perspective", "rotate_5")
        ]
        others += [prints[o] for o in SCENES if o != name]
        for other in others:
            total += 1
            for i, v in enumerate(verdicts(prints[name], other)):
                false[i] += v
    print(f"  false matches among {total} new views and other scenes: {false}")


def main() -> None:
    if "--copies" in sys.argv:
        copies()
        return
    data = build()
    print(
        f"labelled set: {len(SCENES)} scenes; same scene {len(data.scene_pos)} positives, "
        f"{len(data.scene_neg)} negatives; reuse {len(data.reuse_pos)} positives, "
        f"{len(data.reuse_neg)} negatives"
    )
    print("\nsame scene: inliers ≥ T")
    print("  T   precision  recall")
    for t in (6, 8, 10, 12, 15, 20, 25, 30, 40):
        p, r = precision_recall(data.scene_pos, data.scene_neg, t, above=True)
        print(f"  {t:<3} {p:9.3f} {r:7.3f}")
    print(f"  negatives: max {max(data.scene_neg)} inliers; positives: min {min(data.scene_pos)}")
    scene_pass, scene_warn = choose(data.scene_pos, data.scene_neg, range(4, 80), above=True)
    print("\nreuse: Hamming distance ≤ D (recall through the band index: a copy is found only")
    print("if one 16-bit band is equal; guaranteed up to D = 3)")
    print("  D   precision  recall  indexed recall")
    for d in (2, 4, 6, 8, 10, 12, 14):
        p, r = precision_recall(data.reuse_pos, data.reuse_neg, d, above=False)
        found = sum(1 for v, i in zip(data.reuse_pos, data.indexed, strict=True) if i and v <= d)
        print(f"  {d:<3} {p:9.3f} {r:7.3f} {found / len(data.reuse_pos):8.3f}")
    reuse, _ = choose(data.reuse_pos, data.reuse_neg, range(0, 20), above=False)
    print("\nper kind (inliers for views, Hamming distance for copies): min / median / max")
    for kind, values in data.by_kind.items():
        values = sorted(values)
        print(f"  {kind:<28} {values[0]:>4} {values[len(values) // 2]:>5} {values[-1]:>5}")
    print(
        f"\nchosen: scene_pass_inliers={scene_pass} scene_warn_inliers={scene_warn} "
        f"reuse_max_distance={reuse}"
    )


if __name__ == "__main__":
    main()
