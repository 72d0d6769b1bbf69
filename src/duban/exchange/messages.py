"""The exchange's message catalogue: the texts a person reads, keyed by their English.

Part of the one catalogue: :mod:`duban.web.messages_zh` takes these entries in, so an
exchange error written in English is shown in Chinese like any other. ``{name}`` stands
for a value (see :class:`duban.kernel.errors.Msg`).
"""

from __future__ import annotations

from typing import Final

ZH: Final[dict[str, str]] = {
    "a link name must be 2-64 letters, digits, '_', '.' or '-'": "链接名称须为 2–64 个字母、数字、“_”“.”或“-”",
    "the base URL must start with http:// or https:// (the Open311 endpoint)": "地址须以 http:// 或 https:// 开头（上级平台的 Open311 接口）",
    "the higher platform's api_key is required": "须填写上级平台发给本平台的 api_key",
    "the agency (our unit's code on the higher platform) is required": "须填写本平台在上级平台的单位代码（agency）",
    "unknown source '{source}'; one of: {sources}": "未知的信息来源“{source}”，应为：{sources}",
    "there is no exchange link '{name}'": "没有名为“{name}”的上级平台链接",
    "the higher platform did not answer: {reason}": "上级平台无应答：{reason}",
    "the higher platform answered {status}: {reason}": "上级平台返回 {status}：{reason}",
    "the higher platform refused it ({status}): {reason}": "上级平台拒收（{status}）：{reason}",
    "the higher platform's answer is not JSON": "上级平台的应答不是 JSON",
    "the higher platform's answer is not a list": "上级平台的应答不是列表",
    "request {id} has no location": "上级案件 {id} 没有位置",
    "there is no unit '{code}'": "没有代码为“{code}”的单位",
    "Bad request: only a lower platform's key may send photos": "请求有误：只有下级平台的密钥可以附带照片",
    "no active exchange link": "没有启用的上级平台链接",
    "a code mapping is THEIRS=OURS, separated by commas": "代码对照写成“上级代码=本级代码”，用逗号分隔",
    "only the supervision centre answers the higher platform": "只有监督指挥中心可以答复上级平台的督办",
    "there is no problem {id} of the higher platform": "没有编号为 {id} 的上级督办问题",
    "the higher platform no longer shows problem {id} to us": "上级平台已不再向本级显示督办问题 {id}",
    "the higher platform refused our staff credential (expired or revoked): ask its admin for a new one (duban user token) and set it on the link": "上级平台拒绝了本级的业务接口凭据（已过期或被吊销）：请上级平台管理员重新签发（duban user token），并在链接上更新",
    "the higher platform did not take photo {id}": "上级平台未接收照片 {id}",
    # the admin page
    "Higher platform": "上级平台",
    "take its cases, send results back": "接收上级平台派来的案件，回传处置结果",
    "This platform takes the cases the higher platform sends its unit and sends the results back.": "本平台接收上级平台派给本级单位的案件，并回传处置结果。",
    "Our unit there": "本级在上级平台的单位代码",
    "Pulled up to": "已接收至",
    "Last error": "最近错误",
    "Retry failed": "重发失败的回传",
    "Add or change a link": "新增或修改链接",
    "Open311 address of the higher platform": "上级平台的 Open311 地址",
    "API key it issued to us": "上级平台发给本平台的 API 密钥",
    "Service codes taken": "接收的服务代码",
    "Codes that differ (theirs=ours)": "不一致的代码（上级=本级）",
    "Results sent up": "回传记录",
    "Tries": "尝试次数",
    "Next try": "下次尝试",
    "waiting to go up": "待回传",
    "sent up": "已回传",
    "failed, not retried": "失败，不再重试",
    "Staff API token of our unit's handler there": "本级单位在上级平台的处置账号令牌（业务接口）",
    "Supervision orders from the higher platform": "上级平台的督办单",
    "Our answer": "本级答复",
    "Order": "督办单",
    "Sent back": "退回原因",
    "Measures taken": "整改措施",
    "Staff token": "处置账号令牌",
    "set": "已设置",
    "not set": "未设置",
}
