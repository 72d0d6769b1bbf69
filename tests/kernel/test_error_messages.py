"""Every domain error is raised with a catalogue template, never with English written out.

A static scan of ``src/duban``: each ``raise SomeDubanError(...)`` gives its message as a
literal string or ``Msg("template {name}", name=value)`` (or a module constant holding
one), and the template is a key of the Chinese catalogue (:mod:`duban.web.messages_zh`).
An f-string, ``.format()``, ``str(err)`` or a concatenation would reach people as raw
English in the Chinese UI, so they fail here, with the file and line to fix. This also
checks code merged in later from other branches.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import duban
from duban.web.messages_zh import ZH

SRC = Path(duban.__file__).parent
ROOT = SRC.parent.parent
KERNEL_ERRORS = {
    "DubanError",
    "NotFound",
    "Unauthenticated",
    "PermissionDenied",
    "Conflict",
    "InvalidInput",
    "PolicyError",
    "TooManyRequests",
}
#: Errors whose constructor writes its own message (from fields, not a template argument).
OWN_MESSAGE = {"IllegalTransition", "StaleCase", "LedgerFileRefused"}
#: Errors that are not domain errors but carry a template the same way (``err.text``).
#: ``CommandFailed`` is read by operators on the command line, in their language.
TEMPLATE_CARRIERS = {
    "ScheduleError",
    "CommandFailed",
    "AuditKeyError",
    "CheckpointError",
    "HistoryFileError",
    "SealingKeyError",
}
HOW_TO_FIX = """\
Raise domain errors with a catalogue template, not with English written out:
    raise NotFound("no such revisit")
    raise InvalidInput(Msg("unknown unit '{code}'", code=code), field="unit")
(Msg from duban.kernel.errors; a value may itself be a Msg, and values named status, action,
role or source are shown as their labels), and add the template with its Chinese to
src/duban/web/messages_zh.py (ZH), the same {placeholders} in both."""


@dataclass(frozen=True)
class Problem:
    where: str
    what: str


def _modules() -> dict[Path, ast.Module]:
    return {p: ast.parse(p.read_text(encoding="utf-8")) for p in sorted(SRC.rglob("*.py"))}


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _error_classes(modules: dict[Path, ast.Module]) -> set[str]:
    """The kernel's errors and every class deriving from one, by name."""
    known = set(KERNEL_ERRORS) | OWN_MESSAGE | TEMPLATE_CARRIERS
    grown = True
    while grown:
        grown = False
        for tree in modules.values():
            for node in ast.walk(tree):
                if (
                    isinstance(node, ast.ClassDef)
                    and node.name not in known
                    and any(_name(b) in known for b in node.bases)
                ):
                    known.add(node.name)
                    grown = True
    return known


def _constants(modules: dict[Path, ast.Module]) -> dict[str, set[str]]:
    """Module-level ``NAME = "text"`` constants of every module, by name."""
    out: dict[str, set[str]] = {}
    for tree in modules.values():
        for node in tree.body:
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            targets = (
                node.targets
                if isinstance(node, ast.Assign)
                else [node.target]
                if isinstance(node, ast.AnnAssign)
                else []
            )
            texts = []
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                texts = [value.value]
            elif isinstance(value, ast.Dict):  # {"code": "text", …}, raised as NAME[code]
                texts = [v.value for v in value.values if isinstance(v, ast.Constant)]
                if len(texts) != len(value.values) or not texts:
                    texts = []
            for target in targets:
                if isinstance(target, ast.Name) and texts:
                    out.setdefault(target.id, set()).update(t for t in texts if isinstance(t, str))
    return out


def _messages_assigned(tree: ast.Module) -> set[str]:
    """Names a module assigns a ``Msg(...)`` to (checked where they are made)."""
    return {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and (
            (isinstance(node.value, ast.Call) and _name(node.value.func) == "Msg")
            or (isinstance(node.value, ast.Attribute) and node.value.attr == "text")
        )
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _templates(
    node: ast.expr, constants: dict[str, set[str]], made: set[str] = frozenset()
) -> list[str] | str:
    """The templates a message argument may be, or why it is not a template."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in constants:
        return sorted(constants[node.id])
    if (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Name)
        and node.value.id in constants
    ):
        return sorted(constants[node.value.id])
    if isinstance(node, ast.Name) and node.id in made:
        return []  # a Msg(...) made above: checked there
    if isinstance(node, ast.Attribute) and node.attr == "text":
        return []  # another error's template, passed on (err.text)
    if isinstance(node, ast.IfExp):
        body, orelse = (
            _templates(node.body, constants, made),
            _templates(node.orelse, constants, made),
        )
        if isinstance(body, str):
            return body
        if isinstance(orelse, str):
            return orelse
        return body + orelse
    if isinstance(node, ast.Call) and _name(node.func) == "Msg" and node.args:
        return _templates(node.args[0], constants)
    if isinstance(node, ast.JoinedStr):
        return "an f-string"
    if isinstance(node, ast.Call) and _name(node.func) == "format":
        return "text filled in with .format()"
    return f"not a template: {ast.unparse(node)[:60]}"


def _problems() -> list[Problem]:
    modules = _modules()
    errors = _error_classes(modules)
    constants = _constants(modules)
    problems: list[Problem] = []

    made: set[str] = set()

    def check(where: str, node: ast.expr) -> None:
        found = _templates(node, constants, made)
        if isinstance(found, str):
            problems.append(Problem(where, found))
            return
        for template in found:
            if template not in ZH:
                problems.append(Problem(where, f"{template!r} is not in the Chinese catalogue"))

    for path, tree in modules.items():
        rel = path.relative_to(ROOT)
        made = _messages_assigned(tree)
        for node in ast.walk(tree):
            where = f"{rel}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Call) and _name(node.func) == "Msg" and node.args:
                first = node.args[0]
                if isinstance(first, ast.Constant) or (
                    isinstance(first, ast.Name) and first.id in constants
                ):
                    check(where, first)
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            call, cls = node.exc, _name(node.exc.func)
            if cls not in errors:
                continue
            if cls in OWN_MESSAGE:
                for kw in call.keywords:
                    if kw.arg == "reason":
                        check(where, kw.value)
                continue
            if not call.args:
                problems.append(Problem(where, f"{cls} raised without a message"))
                continue
            if not (isinstance(call.args[0], ast.Call) and _name(call.args[0].func) == "Msg"):
                check(where, call.args[0])
    return problems


def test_every_domain_error_is_raised_with_a_template_of_the_catalogue() -> None:
    problems = sorted(
        _problems(), key=lambda p: (p.where.split(":")[0], int(p.where.split(":")[1]))
    )
    assert not problems, (
        f"{len(problems)} domain error(s) raised with text people cannot read in Chinese:\n"
        + "\n".join(f"  {p.where}: {p.what}" for p in problems)
        + "\n\n"
        + HOW_TO_FIX
    )


def test_an_error_carries_its_template_and_renders_it_in_each_language() -> None:
    from duban.kernel.errors import Conflict, IllegalTransition, Msg
    from duban.web.i18n import translate

    err = Conflict(Msg("case {case_code} has already been rated", case_code="C-7"))
    assert str(err) == err.message == "case C-7 has already been rated"
    assert err.text.template == "case {case_code} has already been rated"
    assert err.text.params == {"case_code": "C-7"}
    assert translate(err.text, "en") == str(err)
    assert translate(err.text, "zh") == "案件 C-7 已评价"

    # Codes given as values are shown as their labels; a nested message is translated.
    refused = IllegalTransition(
        status="closed", action="dispatch", role="citizen", reason=Msg("no such revisit")
    )
    assert refused.detail == {"status": "closed", "action": "dispatch", "role": "citizen"}
    chinese = translate(refused.text, "zh")
    assert "已结案" in chinese
    assert "市民" in chinese
    assert ZH["no such revisit"] in chinese
    assert "closed" not in chinese


#: Developer wording the English face must not show: Chinese inside English, API paths,
#: "expected …" (a parser's voice), "visible to you".
DEVELOPER_WORDING = re.compile(r"[\u3400-\u9fff]|/api/v1|\bexpected\b|visible to you")
#: Keys whose English may keep such wording: what the reader types (the State Council's
#: 休/班, a Chinese date) and the messages of the command line and the Open311 interface,
#: read by operators and programmers.
TECHNICAL_READERS = frozenset(
    {
        "Copy the days off and make-up workdays of the State Council's notice, one day or "
        "range per line ending with 休 (day off) or 班 (workday). The year's local days are "
        "replaced by what you paste.",
        "{item!r} must be a day or a range ending with 休 (day off) or 班 (workday), e.g. "
        "'2027-02-14 班'.",
        "Deadlines in those years skip the statutory holidays, but the make-up workdays (调休) "
        "are not known until the State Council's notice is published. Paste the notice's days "
        "off and make-up workdays as soon as it is.",
        "not a date: write 2026-12-31, 2026/12/31 or 2026年12月31日",
    }
)


def test_the_english_face_reads_user_wording_not_the_template_keys() -> None:
    from duban.web.errors_en import ERRORS_EN
    from duban.web.messages_en import EN

    placeholders = re.compile(r"\{(\w+)")
    for key, english in EN.items():
        assert key in ZH, f"{key!r}: an English override of a key that is in no catalogue"
        assert set(placeholders.findall(english)) <= set(placeholders.findall(key)), key
    raised = {t for t in _raised_templates() if t in ERRORS_EN or t in ZH}
    assert len(raised) > 250
    blunt = sorted(
        t for t in ZH if t not in TECHNICAL_READERS and DEVELOPER_WORDING.search(EN.get(t, t))
    )
    assert not blunt, "English a user should not read; add it to web/errors_en.py:\n" + "\n".join(
        blunt
    )


def test_an_override_is_used_in_english_only() -> None:
    from duban.kernel.errors import Msg, NotFound
    from duban.web.i18n import translate

    err = NotFound(Msg("case {case_id} does not exist or is not visible to you", case_id=3))
    assert str(err) == "case 3 does not exist or is not visible to you"  # logs: the key
    assert translate(err.text, "en") == (
        "This case does not exist, or you do not have access to it."
    )
    assert translate(err.text, "zh") == "该案件不存在，或您无权查看。"
    where = Msg("{where}: expected days and hours", where="patrol.hours")
    assert translate(where, "en") == "patrol.hours: give the days and the hours."
    assert translate("job:sweep", "en") == "Overdue sweep and warnings"
    assert translate("job:sweep", "zh") == "超期巡检与预警"


def _raised_templates() -> set[str]:
    """Every template the static scan finds in a ``Msg(...)`` or a raise."""
    found: set[str] = set()
    modules = _modules()
    constants = _constants(modules)
    for tree in modules.values():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and _name(node.func) == "Msg" and node.args:
                got = _templates(node.args[0], constants)
                if isinstance(got, list):
                    found.update(got)
    return found


def test_a_library_error_reaches_people_as_a_sentence_and_its_words_as_detail() -> None:
    """The person reads a whole sentence in their language; GEOS, json or the parser's own
    English only goes to ``detail['cause']`` (and the log)."""
    import io

    import pytest

    from duban.accounts.beats import beat_geometry
    from duban.kernel.errors import InvalidInput
    from duban.open311.bulk_import import read_rows
    from duban.open311.parsing import parse_area
    from duban.web.i18n import translate

    refusals = []
    for call in (
        lambda: beat_geometry({"type": "Polygon", "coordinates": "nonsense"}),
        lambda: parse_area({"type": "Nothing"}),
        lambda: read_rows(io.StringIO("[{"), "json"),
    ):
        with pytest.raises(InvalidInput) as caught:
            call()
        refusals.append(caught.value)
    beat, area, file = refusals
    assert translate(beat.text, "zh") == "责任区不是有效的 GeoJSON 几何图形"
    assert translate(beat.text, "en") == "The beat is not a valid area on the map."
    assert translate(area.text, "zh") == "区域不是有效的 GeoJSON 几何图形"
    assert translate(file.text, "zh") == "文件不是有效的 JSON"
    for err in refusals:
        assert err.detail["cause"], err  # the library's words, for programs and the log
        assert err.detail["cause"] not in translate(err.text, "zh")
        assert not re.search(r"[A-Za-z]{4,}", re.sub(r"(Geo)?JSON", "", translate(err.text, "zh")))
    # The taxonomy's problems: each a catalogue message (in detail), listed in the message,
    # all in the reader's language.
    from duban.reference.categories import parse_taxonomy

    with pytest.raises(InvalidInput) as caught:
        parse_taxonomy({"version": 1, "name": "x", "kinds": [], "classes": [{"code": 7}]})
    problems = caught.value.detail["problems"]
    chinese = translate(caught.value.text, "zh")
    assert chinese.startswith(f"分类数据有 {len(problems)} 处问题")
    assert chinese.count("\n  - ") == len(problems) == 5
    for problem in problems:
        assert translate(problem, "zh") in chinese
        assert not re.search(r"\b(must|missing|got|quoted|reads)\b", translate(problem, "zh"))
        assert translate(problem, "api") in translate(caught.value.text, "api")
