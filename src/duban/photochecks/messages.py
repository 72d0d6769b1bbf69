"""The sentences of the findings, in English and Chinese, keyed by reason code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

# ruff: noqa: E501 - the sentences read better unwrapped

EN: Final[dict[str, str]] = {
    "original": "Looks like an original camera photo ({device}).",
    "no_exif": "No camera data (EXIF): the photo may have been saved again, sent through a chat app or edited.",
    "screenshot": "The photo is a screenshot.",
    "screenshot_png": "A PNG without camera data: most likely a screenshot, not a photo.",
    "edited": "Saved by editing software ({software}).",
    "absurd_exif": "The camera data is implausible ({field}).",
    "modified_later": "Changed {minutes} minutes after it was taken.",
    "resized": "Resized: the camera wrote {declared}, the file is {actual}.",
    "recompressed": "Re-compressed at low quality (about {quality}).",
    "resized_device": "Resized: a {device} takes {expected}, this file is {actual} ({percent} % of it). Not the original photo.",
    "resized_chat": "{actual} is the size chat apps and galleries shrink photos to (long side {long}), not a camera's: most likely a resized copy.",
    "no_time": "No capture time in the photo.",
    "before_dispatch": "Taken at {taken}, before the case was dispatched.",
    "after_feedback": "Taken at {taken}, after the feedback was sent.",
    "in_time": "Taken at {taken}, after dispatch.",
    "no_gps": "No GPS position in the photo.",
    "near": "Taken {metres} m from the case.",
    "far": "Taken {metres} m from the case (allowed: {radius} m).",
    "unique": "No other photo in the city looks like this one.",
    "reused": "The same picture as photo {photo} (case {case}, distance {distance}).",
    "reused_copy": "A cropped or resized copy of photo {photo} (case {case}): {inliers} points line up as in the same picture.",
    "same_as_before": "The same picture as the before-photo: nothing seems to have changed.",
    "no_before": "No before-photo to compare with.",
    "same_scene": "Shows the place of the before-photo ({inliers} matching points).",
    "maybe_scene": "May show the place of the before-photo; only {inliers} matching points.",
    "other_scene": "Does not show the place of the before-photo ({inliers} matching points).",
    "flat": "A picture of one colour: too little detail to compare.",
    "not_run": "Not run for this category.",
    "not_checked": "Not checked yet: the photo is not part of a feedback.",
}

ZH: Final[dict[str, str]] = {
    "original": "原始相机照片（{device}）。",
    "no_exif": "无拍摄信息（EXIF）：照片可能经过转存、聊天软件发送或编辑。",
    "screenshot": "该图片为截屏。",
    "screenshot_png": "无拍摄信息的PNG图片，很可能是截屏而非照片。",
    "edited": "经编辑软件保存（{software}）。",
    "absurd_exif": "拍摄信息不合理（{field}）。",
    "modified_later": "拍摄后{minutes}分钟被修改。",
    "resized": "尺寸被改动：相机记录为{declared}，文件为{actual}。",
    "recompressed": "经低质量重新压缩（约{quality}）。",
    "resized_device": "尺寸被缩小：{device}拍摄的照片为{expected}，该文件为{actual}（{percent}%），不是原图。",
    "resized_chat": "{actual}是聊天软件和相册压缩照片常用的尺寸（长边{long}），不是相机原始尺寸，很可能是压缩后的副本。",
    "no_time": "照片中无拍摄时间。",
    "before_dispatch": "拍摄于{taken}，早于派遣时间。",
    "after_feedback": "拍摄于{taken}，晚于反馈时间。",
    "in_time": "拍摄于{taken}，在派遣之后。",
    "no_gps": "照片中无GPS位置。",
    "near": "拍摄地点距案件{metres}米。",
    "far": "拍摄地点距案件{metres}米（允许{radius}米）。",
    "unique": "全市无相似照片。",
    "reused": "与照片{photo}相同（案件{case}，差异{distance}）。",
    "reused_copy": "是照片{photo}（案件{case}）裁剪或缩放后的副本：{inliers}个特征点与原图完全对应。",
    "same_as_before": "与问题照片相同：现场似无变化。",
    "no_before": "无问题照片可比对。",
    "same_scene": "与问题照片为同一现场（{inliers}个匹配点）。",
    "maybe_scene": "可能与问题照片为同一现场，仅{inliers}个匹配点。",
    "other_scene": "与问题照片不是同一现场（{inliers}个匹配点）。",
    "flat": "画面几乎为单一颜色，细节太少，无法比对。",
    "not_run": "该类别不做此项检查。",
    "not_checked": "尚未检查：该照片不属于任何反馈。",
}


def sentence(reason: str, values: Mapping[str, Any], lang: str) -> str:
    """The reason in ``lang`` (``zh`` or ``en``), values filled in."""
    table = EN if lang == "en" else ZH
    text = table.get(reason, reason)
    try:
        return text.format(**values)
    except (KeyError, IndexError):
        return text
