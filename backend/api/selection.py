"""What a query selects under a field: lets a list's selector prefetch only what is asked for.

A list that always prefetched every nested object would pay for it on every call; one that
never did would query per row (N+1). Resolvers read the selected paths and tell the
selector what to load, in one query per relation for the whole page.
"""

from __future__ import annotations

from graphql import FieldNode, FragmentSpreadNode, GraphQLResolveInfo, InlineFragmentNode, SelectionSetNode

CONNECTION_NODE = ("edges", "node")


def selected_paths(info: GraphQLResolveInfo, *, under: tuple[str, ...] = CONNECTION_NODE) -> set[str]:
    """Dotted paths of the fields selected below the current field, relative to ``under``
    (``edges.node`` of a connection by default): {"campaign", "campaign.redeemedCount", ...}.

    Each (fragment, place) pair is expanded once, so a document of nested fragments costs
    its size here, never an exponential walk."""
    paths: set[str] = set()
    expanded: set[tuple[str, tuple[str, ...]]] = set()

    def walk(selection_set: SelectionSetNode | None, path: tuple[str, ...]) -> None:
        if selection_set is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                here = (*path, selection.name.value)
                paths.add(".".join(here))
                walk(selection.selection_set, here)
            elif isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, path)
            elif isinstance(selection, FragmentSpreadNode):
                key = (selection.name.value, path)
                fragment = info.fragments.get(selection.name.value)
                if key not in expanded and fragment is not None:
                    expanded.add(key)
                    walk(fragment.selection_set, path)

    for node in info.field_nodes:
        walk(node.selection_set, ())
    prefix = ".".join(under) + "." if under else ""
    return {p[len(prefix) :] for p in paths if p.startswith(prefix)}


def selects_any(paths: set[str], *wanted: str) -> bool:
    return any(w in paths for w in wanted)
