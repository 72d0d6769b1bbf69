"""The public view's message catalogue: the emails and the refusals, in English and Chinese.

Texts are keyed by their English; ``{name}`` placeholders are filled after translation.
:mod:`duban.web.messages_zh` takes these entries in (one catalogue), and the emails to
subscribers are written from it here, in the subscriber's language.
"""

from __future__ import annotations

from typing import Any, Final

ZH: Final[dict[str, str]] = {
    # refusals
    "A region is given by its code (6 to 15 digits).": "区域以其代码（6 至 15 位数字）指定。",
    "A box is four numbers: west,south,east,north.": "范围是四个数：西,南,东,北。",
    "A place is a latitude and a longitude in degrees.": "地点是以度为单位的纬度和经度。",
    "The radius is 1 to 20000 metres.": "半径为 1 至 20000 米。",
    "Choose a region, a box or a place on the map.": "请选择区域，或在地图上选定范围或地点。",
    "Please give an email address.": "请填写电子邮箱地址。",
    "This link is not valid or has expired.": "此链接无效或已过期。",
    "no public report has this case number": "没有该案卷号的公开案件",
    # area names
    "the area you chose on the map": "您在地图上选定的范围",
    "within {radius} m of the place you chose": "您选定地点周边 {radius} 米内",
    # the confirmation email
    "Confirm your subscription: reports in {area}": "请确认订阅：{area}的问题上报",
    "Hello,\n\nsomeone (we hope you) asked to be told by email about new reports of problems in {area}.\n\nTo confirm, open this link within {days} days:\n{confirm_url}\n\nIf it was not you, ignore this email: nothing will be sent.\n\n— Duban, city-management supervision": "您好：\n\n有人（希望是您本人）申请通过电子邮件接收{area}新上报问题的通知。\n\n确认订阅请在 {days} 天内打开以下链接：\n{confirm_url}\n\n如非本人操作，请忽略本邮件，我们不会再发送任何邮件。\n\n—— 督办 · 城市管理巡查督办平台",
    # the alert about a case
    "New report in {area}: {category}": "{area}有新上报问题：{category}",
    "A new problem was reported in {area}.\n\n{category} · {status}\n{address}\nReported at {time}\n\nFollow it: {case_url}\nAll reports of the area: {area_url}\n\nStop these emails: {unsubscribe_url}\n\n— Duban, city-management supervision": "{area}有新上报的问题。\n\n{category} · {status}\n{address}\n上报时间：{time}\n\n查看进度：{case_url}\n该区域全部问题：{area_url}\n\n退订此类邮件：{unsubscribe_url}\n\n—— 督办 · 城市管理巡查督办平台",
    # the feed
    "Reports in {area}": "{area}的问题上报",
    "all areas": "全部区域",
    "{category} · {status} · {address}": "{category} · {status} · {address}",
}


def text(key: str, lang: str, **values: Any) -> str:
    """``key`` in ``lang`` (``zh`` or ``en``) with ``values`` filled in."""
    out = key if lang == "en" else ZH.get(key, key)
    return out.format(**values) if values else out
