"""The import drawing of the house: no circle between packages.

import-linter (run by scripts/test) checks the floors; this pins the property itself with
grimp, the graph library it uses: squash each package of backend/ (and attribution, billing)
to one node and look for a cycle between them.
"""

from __future__ import annotations

import grimp

ROOTS = ("backend", "attribution", "billing")


def package_graph(graph: grimp.ImportGraph, packages: list[str]) -> dict[str, set[str]]:
    for package in packages:
        if graph.find_children(package):
            graph.squash_module(package)
    return {
        package: {
            other
            for other in packages
            if other != package and graph.direct_import_exists(importer=package, imported=other)
        }
        for package in packages
    }


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``edges`` as a path that returns to its start, or None."""
    state: dict[str, str] = {}  # "open" while on the current path, "done" when finished
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(edges):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def backend_packages(graph: grimp.ImportGraph) -> list[str]:
    return sorted(m for m in graph.find_children("backend") if graph.find_children(m)) + [
        "attribution",
        "billing",
    ]


def test_no_cycle_between_packages():
    graph = grimp.build_graph(*ROOTS, cache_dir=None)
    packages = backend_packages(graph)
    assert {"backend.api", "backend.gateway", "backend.merchants", "backend.config"} <= set(packages)
    edges = package_graph(graph, packages)
    assert edges["backend.gateway"] >= {"backend.api", "backend.merchants"}  # the drawing is not empty
    assert find_cycle(edges) is None, " -> ".join(find_cycle(edges))


def test_the_ground_imports_no_package_of_the_house():
    graph = grimp.build_graph(*ROOTS, cache_dir=None)
    packages = backend_packages(graph)
    assert package_graph(graph, packages)["backend.api"] == set()


def test_a_cycle_between_packages_is_found():
    def drawing(*, ground_knows_merchants: bool) -> dict[str, set[str]]:
        graph = grimp.ImportGraph()
        for package in ("backend", "backend.api", "backend.campaigns", "backend.merchants"):
            graph.add_module(package)
        graph.add_import(importer="backend.merchants.schema", imported="backend.api.mutations")
        graph.add_import(importer="backend.campaigns.schema", imported="backend.api.mutations")
        if ground_knows_merchants:
            graph.add_import(importer="backend.api.permissions", imported="backend.merchants.models")
        return package_graph(graph, ["backend.api", "backend.campaigns", "backend.merchants"])

    assert find_cycle(drawing(ground_knows_merchants=True)) == [
        "backend.api",
        "backend.merchants",
        "backend.api",
    ]
    assert find_cycle(drawing(ground_knows_merchants=False)) is None
