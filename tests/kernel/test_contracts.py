"""The import contracts of tests/contracts.py catch what docs/architecture.md forbids.

Each contract gets a small hand-made graph; the real one is checked by ``lint-imports``
in ./scripts/test, and once here so a plain pytest run catches a broken rule too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from tests.contracts import FacesContract, LayersContract, PureContract, iter_breaches

ROOT = Path(__file__).resolve().parents[2]


def graph_of(*imports: str) -> grimp.ImportGraph:
    graph = grimp.ImportGraph()
    for link in imports:
        importer, imported = (part.strip() for part in link.split("->"))
        for module in (importer, imported):
            if module not in graph.modules:
                graph.add_module(module, is_squashed="." not in module and module != "duban")
        graph.add_import(
            importer=importer, imported=imported, line_number=1, line_contents="import"
        )
    return graph


def breaches(contract: object, graph: grimp.ImportGraph) -> list[tuple[str, str]]:
    check = contract.check(graph, verbose=False)  # type: ignore[attr-defined]
    return [(b.importer, b.imported) for b in iter_breaches(check)]


LAYERS = LayersContract(
    "layers",
    {},
    {
        "layers": [
            "duban.app",
            "duban.web | duban.*.api",
            "duban.cases | duban.places",
            "duban.kernel",
        ],
        "unlayered": ["duban"],
    },
)


def test_an_import_down_or_sideways_keeps_the_layers() -> None:
    graph = graph_of(
        "duban.app -> duban.cases.api",
        "duban.cases.api -> duban.web",
        "duban.cases.actions -> duban.places",
        "duban.places -> duban.kernel.errors",
    )
    assert breaches(LAYERS, graph) == []


def test_a_use_case_that_imports_a_route_module_breaks_the_layers() -> None:
    graph = graph_of("duban.cases.actions -> duban.places.api", "duban.kernel.x -> duban.cases")
    assert breaches(LAYERS, graph) == [
        ("duban.cases.actions", "duban.places.api"),
        ("duban.kernel.x", "duban.cases"),
    ]


def test_a_module_in_no_layer_is_reported() -> None:
    assert breaches(LAYERS, graph_of("duban.stray -> duban.kernel")) == [("duban.stray", "")]


def test_a_capability_reaches_another_only_through_its_face() -> None:
    faces = FacesContract("faces", {}, {"capabilities": ["duban.cases", "duban.places"]})
    graph = graph_of(
        "duban.cases.intake -> duban.places",
        "duban.cases.intake -> duban.cases.models",
        "duban.cases.actions -> duban.places.index",
    )
    assert breaches(faces, graph) == [("duban.cases.actions", "duban.places.index")]


def test_a_pure_rule_imports_neither_a_framework_nor_an_impure_module() -> None:
    pure = PureContract(
        "pure",
        {},
        {
            "modules": ["duban.cases.workflow", "duban.kernel.errors"],
            "forbidden_externals": ["sqlalchemy"],
        },
    )
    graph = graph_of(
        "duban.cases.workflow -> duban.kernel.errors",
        "duban.cases.workflow -> enum",
        "duban.cases.workflow -> sqlalchemy",
        "duban.cases.workflow -> duban.cases.models",
    )
    assert breaches(pure, graph) == [
        ("duban.cases.workflow", "duban.cases.models"),
        ("duban.cases.workflow", "sqlalchemy"),
    ]


@pytest.mark.skipif(
    shutil.which("lint-imports", path=str(Path(sys.executable).parent)) is None,
    reason="import-linter is not installed",
)
def test_the_code_keeps_every_contract() -> None:
    lint = Path(sys.executable).parent / "lint-imports"
    env = {"PYTHONPATH": str(ROOT / "src"), "PATH": str(Path(sys.executable).parent)}
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
