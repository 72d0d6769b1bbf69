"""Who a user is: the roles of the closed loop, with their labels (中文, English)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final


class Role(StrEnum):
    """Who a user is in the loop (see DESIGN.md "Who uses it")."""

    CITIZEN = "citizen"  # 市民
    COLLECTOR = "collector"  # 监督员 / 信息采集员
    OPERATOR = "operator"  # 受理员
    SHIFT_LEAD = "shift_lead"  # 值班长
    DISPATCHER = "dispatcher"  # 派遣员
    HANDLER = "handler"  # 专业部门 / 责任单位
    SUPERVISOR = "supervisor"  # 督察
    LEADER = "leader"  # 领导 / 网格长 / 路长
    ADMIN = "admin"  # 管理员
    SYSTEM = "system"  # the deadline sweep and other jobs; never a login


ROLE_LABELS: Final[Mapping[Role, tuple[str, str]]] = {
    Role.CITIZEN: ("市民", "Citizen"),
    Role.COLLECTOR: ("监督员", "Collector"),
    Role.OPERATOR: ("受理员", "Operator"),
    Role.SHIFT_LEAD: ("值班长", "Shift lead"),
    Role.DISPATCHER: ("派遣员", "Dispatcher"),
    Role.HANDLER: ("责任单位", "Unit handler"),
    Role.SUPERVISOR: ("督察", "Supervisor"),
    Role.LEADER: ("领导", "Leader"),
    Role.ADMIN: ("管理员", "Administrator"),
    Role.SYSTEM: ("系统", "System"),
}
