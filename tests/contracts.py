"""Duban's own import-linter contracts: the layer rules of docs/architecture.md.

``lint-imports`` (run by ``./scripts/test``) reads the contracts in ``pyproject.toml``; three
of them use the types below, registered there under ``contract_types``:

* ``pure``: the pure rules (workflow, calendar, taxonomy, grids, coordinates, parsing …)
  import only other pure modules and no database, web or CLI framework.
* ``faces``: a capability imports another only through its public face, the other's
  ``__init__``. A name taken from a face counts as an import of the module that defines it,
  so a pure rule may use another capability's pure rule through its face.
* ``layers``: modules are sorted into layers by name; an import goes to the same layer or
  one below, never up. Checking each direct import suffices: no chain can climb if no link
  does.

Each check reads the graph that import-linter builds with grimp; ``tests/kernel/
test_contracts.py`` feeds them small graphs to show what they catch.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import importlib.util
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import grimp
from importlinter import Contract, ContractCheck, fields, output


@dataclass(frozen=True)
class Breach:
    importer: str
    imported: str
    line: int | None
    why: str


def _line(graph: grimp.ImportGraph, importer: str, imported: str) -> int | None:
    details = graph.get_import_details(importer=importer, imported=imported)
    return details[0]["line_number"] if details else None


def _render(breaches: Iterable[Breach]) -> None:
    for breach in sorted(breaches, key=lambda b: (b.importer, b.imported)):
        where = f" (l. {breach.line})" if breach.line else ""
        output.print_error(f"{breach.importer} -> {breach.imported}{where}: {breach.why}")
        output.new_line()


def _check(breaches: list[Breach]) -> ContractCheck:
    return ContractCheck(kept=not breaches, metadata={"breaches": breaches})


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _ours(graph: grimp.ImportGraph, root: str) -> list[str]:
    return sorted(m for m in graph.modules if _within(m, root))


def _face_homes(face: str, importer: str) -> dict[str, str]:
    """The modules that define the names ``importer`` takes from the face ``face``."""
    spec = importlib.util.find_spec(importer)
    if spec is None or spec.origin is None:
        return {}
    exports = getattr(importlib.import_module(face), "_EXPORTS", {})
    with open(spec.origin, encoding="utf-8") as source:
        tree = ast.parse(source.read())
    homes: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == face and not node.level:
            for alias in node.names:
                homes[alias.name] = exports.get(alias.name, f"{face}.{alias.name}")
    return homes


class PureContract(Contract):
    """Pure modules import only pure modules, and none of the forbidden packages.

    Options: ``modules`` (the pure modules, exact names), ``forbidden_externals`` (top-level
    packages a pure module may not import, e.g. sqlalchemy), ``faces`` (capability packages
    whose names resolve to their defining modules).
    """

    type_name = "pure"
    modules = fields.ListField(subfield=fields.StringField())
    forbidden_externals = fields.ListField(subfield=fields.StringField())
    faces = fields.ListField(subfield=fields.StringField(), required=False)

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        pure = set(self.modules)  # type: ignore[arg-type]
        faces = set(self.faces or ())  # type: ignore[arg-type]
        forbidden = set(self.forbidden_externals)  # type: ignore[arg-type]
        breaches = [
            Breach(f"{name}", "", None, "listed as pure but not in the graph")
            for name in sorted(pure - set(graph.modules))
        ]
        for module in sorted(pure & set(graph.modules)):
            for imported in sorted(graph.find_modules_directly_imported_by(module)):
                top = imported.split(".")[0]
                if top in forbidden:
                    breaches.append(
                        Breach(module, imported, _line(graph, module, imported), "a framework")
                    )
                elif graph.is_module_squashed(imported) or top != module.split(".")[0]:
                    continue  # another external package: allowed
                elif imported in faces:
                    for name, home in _face_homes(imported, module).items():
                        if home not in pure:
                            breaches.append(
                                Breach(
                                    module,
                                    f"{imported}.{name}",
                                    _line(graph, module, imported),
                                    f"defined in {home}, which is not pure",
                                )
                            )
                elif imported not in pure:
                    breaches.append(
                        Breach(module, imported, _line(graph, module, imported), "not pure")
                    )
        return _check(breaches)

    def render_broken_contract(self, check: ContractCheck) -> None:
        _render(check.metadata["breaches"])


class FacesContract(Contract):
    """A capability imports another only through the other's face (its package).

    Options: ``capabilities`` (the capability packages).
    """

    type_name = "faces"
    capabilities = fields.ListField(subfield=fields.StringField())

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        capabilities: list[str] = list(self.capabilities)  # type: ignore[arg-type]

        def home(module: str) -> str | None:
            return next((c for c in capabilities if _within(module, c)), None)

        breaches: list[Breach] = []
        for module in sorted(graph.modules):
            mine = home(module)
            if mine is None:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(module)):
                theirs = home(imported)
                if theirs is None or theirs == mine or imported == theirs:
                    continue
                breaches.append(
                    Breach(
                        module,
                        imported,
                        _line(graph, module, imported),
                        f"import it from the face, {theirs}",
                    )
                )
        return _check(breaches)

    def render_broken_contract(self, check: ContractCheck) -> None:
        _render(check.metadata["breaches"])


def _matches(pattern: str, module: str) -> bool:
    """``pattern`` (``*`` and ``?`` within one name) names ``module`` or an ancestor of it."""
    wanted = pattern.split(".")
    parts = module.split(".")
    return len(parts) >= len(wanted) and all(
        fnmatch.fnmatchcase(part, want) for part, want in zip(parts, wanted, strict=False)
    )


class LayersContract(Contract):
    """Modules in layers by name, top first; nothing imports a layer above its own.

    Options: ``layers`` (top first; each a ``|``-separated list of patterns, ``*`` matching
    within one name, each covering the modules below it too). A module belongs to the layer
    of its longest matching pattern (``duban.*.api`` beats ``duban.cases``). ``unlayered``
    lists modules exempt (the root package, which holds only the version). Every other module
    must match some pattern.
    """

    type_name = "duban_layers"
    layers = fields.ListField(subfield=fields.StringField())
    unlayered = fields.ListField(subfield=fields.StringField(), required=False)

    def _patterns(self) -> list[tuple[int, str]]:
        return [
            (index, pattern.strip())
            for index, layer in enumerate(self.layers)  # type: ignore[arg-type]
            for pattern in layer.split("|")
        ]

    def layer_of(self, module: str) -> int | None:
        found = [(len(p.split(".")), i) for i, p in self._patterns() if _matches(p, module)]
        return max(found)[1] if found else None

    def check(self, graph: grimp.ImportGraph, verbose: bool) -> ContractCheck:
        exempt = set(self.unlayered or ())  # type: ignore[arg-type]
        roots = {p.split(".")[0] for _, p in self._patterns()}
        ours = [m for m in sorted(graph.modules) if m.split(".")[0] in roots and m not in exempt]
        layer = {m: self.layer_of(m) for m in ours}
        breaches = [Breach(m, "", None, "in no layer") for m, i in layer.items() if i is None]
        for module in ours:
            mine = layer[module]
            if mine is None:
                continue
            for imported in sorted(graph.find_modules_directly_imported_by(module)):
                theirs = layer.get(imported)
                if theirs is not None and theirs < mine:
                    breaches.append(
                        Breach(
                            module,
                            imported,
                            _line(graph, module, imported),
                            f"imports upwards, from layer {mine + 1} into layer {theirs + 1}",
                        )
                    )
        return _check(breaches)

    def render_broken_contract(self, check: ContractCheck) -> None:
        _render(check.metadata["breaches"])


def iter_breaches(check: ContractCheck) -> Iterator[Breach]:
    """For tests: the breaches a check found."""
    yield from check.metadata.get("breaches", [])
