"""The ledgers' message catalogue: every text a person reads, in English and Chinese.

Texts are keyed by their English; ``{name}`` placeholders are filled after translation.
This is part of the one catalogue: :mod:`duban.web.messages_zh` takes these entries in, so
a ledger error's template is shown in Chinese by :func:`duban.web.i18n.translate`
like any other (the API and the pages alike).
"""

from __future__ import annotations

from typing import Any, Final

ZH: Final[dict[str, str]] = {
    # the file as a whole
    "the ledger file is refused; nothing was imported: {summary}": "台账文件被拒收，未导入任何内容：{summary}",
    "the file is not an .xlsx workbook": "文件不是 .xlsx 工作簿",
    "the file is larger than the limit of {limit} bytes": "文件超过 {limit} 字节的上限",
    "the workbook unpacks to more than {limit} bytes": "工作簿解压后超过 {limit} 字节的上限",
    "an entry of the workbook inflates more than {ratio} times (a zip bomb?)": "工作簿中的条目解压后膨胀超过 {ratio} 倍（疑似压缩炸弹）",
    "the workbook has more than {limit} entries": "工作簿中的条目超过 {limit} 个",
    "the workbook cannot be read: {reason}": "无法读取工作簿：{reason}",
    "the workbook has no sheet": "工作簿中没有工作表",
    "the sheet has no measure rows": "工作表中没有整改措施行",
    "the sheet has more than {limit} rows": "工作表超过 {limit} 行",
    "{count} bad cell(s)": "{count} 处错误",
    "row {row}, {column}: {message}": "第 {row} 行「{column}」：{message}",
    "and {count} more": "另有 {count} 处",
    # cells
    "the header must be: {header}": "表头应为：{header}",
    "a formula is not accepted; write the value": "不接受公式，请填写数值或文字",
    "required": "必填",
    "required when the column to its left changes": "左侧列变化时必填",
    "longer than {limit} characters": "超过 {limit} 个字符",
    "not a date: write 2026-12-31, 2026/12/31 or 2026年12月31日": "不是日期：请写成 2026-12-31、2026/12/31 或 2026年12月31日",
    "not a status: one of {statuses}": "不是有效状态，应为：{statuses}",
    "a value in an unnamed column": "表头以外的列中有内容",
    # use cases
    "no ledger {id}": "台账 {id} 不存在",
    "no ledger entry {id}": "台账条目 {id} 不存在",
    "no sign-off request {id}": "销号申请 {id} 不存在",
    "no evidence file {id}": "证明材料 {id} 不存在",
    "no file {id}": "文件 {id} 不存在",
    "a title is required": "标题必填",
    "only a measure has a status of its own; an item's follows its measures": "只有整改措施可单独设置状态，具体表现的状态由其整改措施汇总",
    "set {status} through a sign-off request with evidence": "{status} 须通过附证明材料的销号申请设置",
    "Overdue is set by the deadline sweep": "逾期由到期巡检自动设置",
    "a sign-off needs at least one evidence file": "销号申请至少需要一份证明材料",
    "at most {limit} evidence files in one request": "一次申请最多 {limit} 份证明材料",
    "evidence '{name}' is larger than the limit of {limit} bytes": "证明材料“{name}”超过 {limit} 字节的上限",
    "evidence '{name}' is not a photo, PDF, DOCX or XLSX": "证明材料“{name}”不是照片、PDF、DOCX 或 XLSX 文件",
    "this measure is already signed off": "该措施已销号",
    "this measure already has a sign-off request waiting": "该措施已有待审核的销号申请",
    "this sign-off request was already decided": "该销号申请已审核",
    "a refusal needs a reason": "不予销号须说明理由",
    "a note is required": "进展情况必填",
    "this role may not change ledgers": "该角色无权修改台账",
    "this role may not review sign-offs": "该角色无权审核销号",
    "this role may not read ledgers": "该角色无权查看台账",
    "a unit may change only its own measures": "责任单位只能修改本单位的整改措施",
    "the snapshot of week {week} was already taken": "第 {week} 周的进度快照已生成",
    "no case {id}": "案件 {id} 不存在",
    "only an item (a specific problem) links to a case": "只有具体表现可关联案件",
    "only a measure or an item raises a case": "只有整改措施或具体表现可发起案件",
    "no such report source": "没有这种案件来源",
    "the file is missing from the store": "文件存储中找不到该文件",
    # milestones (时间节点)
    "milestone {number}: {message}": "第 {number} 个时间节点：{message}",
    "at most {limit} milestones": "最多 {limit} 个时间节点",
    "a milestone needs its text": "时间节点须写明内容",
    "only an item or a measure has milestones": "只有具体表现和整改措施可设置时间节点",
    # reports
    "a territory user sees only the ledger entries of their territory": "辖区用户只能查看本辖区的台账条目",
}


def text(key: str, lang: str = "en", **values: Any) -> str:
    """``key`` in ``lang`` (``zh`` or ``en``), with ``values`` filled in."""
    out = key if lang != "zh" else ZH.get(key, key)
    return out.format(**values) if values else out
