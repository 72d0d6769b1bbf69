"""The shipped thresholds on (part of) the labelled set of bench/calibrate_photochecks.py."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from duban.photochecks.checks import thresholds_for

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import calibrate_photochecks as calibration

SOME = ("astronaut", "coffee", "rocket", "brick", "motorcycle", "clock")


@pytest.mark.slow
def test_the_policy_thresholds_hold_on_the_labelled_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(calibration, "SCENES", SOME)
    data = calibration.build()
    t = thresholds_for("E0102")
    p, r = calibration.precision_recall(
        data.scene_pos, data.scene_neg, t.scene_pass_inliers, above=True
    )
    assert p == 1.0
    assert r >= 0.9
    p, r = calibration.precision_recall(
        data.scene_pos, data.scene_neg, t.scene_warn_inliers, above=True
    )
    assert p >= 0.9
    assert r >= 0.95
    p, r = calibration.precision_recall(
        data.reuse_pos, data.reuse_neg, t.reuse_max_distance, above=False
    )
    assert p == 1.0
    assert r >= 0.75
