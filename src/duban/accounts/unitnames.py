"""A unit's English name from its Chinese one: the default an admin can correct.

The words units are named with (环卫, 市政工程, 管理处, 局…) are translated from a table,
the usage of English-language government sites (城市管理局 Urban Management Bureau,
环境卫生管理处 Environmental Sanitation Administration Office); whatever is left (the
proper name of a place: 魏都, 西大) is spelled in pinyin. ``市政工程管理处`` → ``Municipal
Engineering Administration Office``, ``魏都区城管局`` → ``Weidu District Urban Management
Bureau``. It is a draft, stored in ``units.name_en`` when the unit is created (or by
migration 0035 for the units before it), and the admin's units page corrects it.
"""

from __future__ import annotations

import re
from typing import Final

from pypinyin import lazy_pinyin

#: The words of unit names and their English; matched longest first.
UNIT_WORDS: Final[dict[str, str]] = {
    "住房和城乡建设": "Housing and Urban-Rural Development",
    "自然资源和规划": "Natural Resources and Planning",
    "市场监督管理": "Market Regulation",
    "街道办事处": "Subdistrict Office",
    "居民委员会": "Residents' Committee",
    "村民委员会": "Villagers' Committee",
    "综合行政执法": "Comprehensive Administrative Law Enforcement",
    "环境卫生": "Environmental Sanitation",
    "市政工程": "Municipal Engineering",
    "市政设施": "Municipal Facilities",
    "城市管理": "Urban Management",
    "综合执法": "Comprehensive Law Enforcement",
    "行政执法": "Administrative Law Enforcement",
    "园林绿化": "Landscaping and Greening",
    "自然资源": "Natural Resources",
    "生态环境": "Ecology and Environment",
    "交通运输": "Transport",
    "市场监管": "Market Regulation",
    "应急管理": "Emergency Management",
    "消防救援": "Fire and Rescue",
    "卫生健康": "Health",
    "文化旅游": "Culture and Tourism",
    "有限公司": "Co., Ltd.",
    "分公司": "Branch",
    "管理中心": "Management Centre",
    "服务中心": "Service Centre",
    "指挥中心": "Command Centre",
    "委员会": "Committee",
    "办事处": "Office",
    "管理处": "Administration Office",
    "管理局": "Administration Bureau",
    "管理所": "Management Station",
    "管理站": "Management Station",
    "居委会": "Residents' Committee",
    "村委会": "Villagers' Committee",
    "环卫": "Sanitation",
    "市政": "Municipal",
    "工程": "Engineering",
    "城管": "Urban Management",
    "执法": "Law Enforcement",
    "园林": "Landscaping",
    "绿化": "Greening",
    "住建": "Housing and Construction",
    "规划": "Planning",
    "交通": "Traffic",
    "交警": "Traffic Police",
    "公安": "Public Security",
    "水务": "Water Affairs",
    "水利": "Water Resources",
    "供水": "Water Supply",
    "排水": "Drainage",
    "供电": "Power Supply",
    "电力": "Electric Power",
    "燃气": "Gas",
    "热力": "Heating",
    "供热": "Heating",
    "通信": "Telecommunications",
    "路灯": "Street Lighting",
    "照明": "Lighting",
    "道路": "Roads",
    "桥梁": "Bridges",
    "消防": "Fire Services",
    "教育": "Education",
    "房管": "Housing Administration",
    "物业": "Property Management",
    "管理": "Management",
    "卫生": "Sanitation",
    "环境": "Environment",
    "设施": "Facilities",
    "维护": "Maintenance",
    "养护": "Maintenance",
    "建设": "Construction",
    "服务": "Service",
    "监察": "Inspection",
    "安全": "Safety",
    "广告": "Advertising",
    "渣土": "Construction Waste",
    "垃圾": "Waste",
    "清运": "Collection",
    "社区": "Community",
    "单位": "Unit",
    "街道": "Subdistrict",
    "公司": "Company",
    "集团": "Group",
    "中心": "Centre",
    "大队": "Brigade",
    "中队": "Squad",
    "局": "Bureau",
    "处": "Office",
    "所": "Station",
    "站": "Station",
    "队": "Team",
    "委": "Commission",
    "办": "Office",
    "科": "Section",
    "区": "District",
    "县": "County",
    "市": "City",
    "镇": "Town",
    "乡": "Township",
}
_LONGEST: Final = max(len(w) for w in UNIT_WORDS)


def english_unit_name(name: str) -> str:
    """A draft English name for a unit called ``name`` (see the module's docstring)."""
    words: list[str] = []
    unknown = ""
    i = 0
    while i < len(name):
        for size in range(min(_LONGEST, len(name) - i), 0, -1):
            english = UNIT_WORDS.get(name[i : i + size])
            if english is not None:
                break
        else:
            unknown += name[i]
            i += 1
            continue
        if unknown:
            words.append(_spelled(unknown))
            unknown = ""
        words.append(english)
        i += size
    if unknown:
        words.append(_spelled(unknown))
    return " ".join(w for w in words if w)


#: Place names pypinyin's phrase dictionary reads wrongly, as maps spell them (the same
#: as the regions' English names, duban.places.regions).
_READINGS: Final = {"魏都": "Weidu", "长葛": "Changge", "朝阳": "Chaoyang"}
_CJK: Final = re.compile(r"([\u3400-\u9fff]+)")


def _spelled(text: str) -> str:
    """Each run of Chinese in pinyin as one capitalised word; other characters kept."""
    out = []
    for i, part in enumerate(_CJK.split(text)):
        if i % 2 == 0:
            out.append(part.strip())
            continue
        for chinese, spelled in _READINGS.items():
            part = part.replace(chinese, f" {spelled} ")
        out.extend(
            w if w in _READINGS.values() else "".join(lazy_pinyin(w)).capitalize()
            for w in part.split()
        )
    return " ".join(w for w in out if w)
