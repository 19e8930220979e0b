"""What a GraphQL document may cost, measured on its syntax tree before it is validated or run.

graphene's depth-limit validator follows every fragment spread again, so a document of a
few hundred bytes (fragments that each spread the previous one twice) costs 2^n work before
a single credential is looked at. Here each fragment is measured once and its numbers are
reused wherever it is spread, so the measure is linear in the document's size, and a
refusal names the limit and the numbers that broke it (``QUERY_TOO_COMPLEX``).

Counted, after fragments are expanded (without expanding them in memory):
- fields, and the depth of the deepest one (introspection fields, ``__*`` and the fields of
  the ``__*`` types, do not deepen);
- a cost in the spirit of Shopify's and GitHub's: every field is 1 (a report or a job
  started is more: GRAPHQL_FIELD_COSTS), and a field's children are multiplied by the
  number of rows it may return (``first``/``last``, else the page size for a connection).
Counted on the text: bytes, tokens (graphql-core's parser stops at the limit), operations,
aliases, fragment spreads, directives, and the items of any list argument (literal or
variable). ``first``/``last`` outside 0..max page size and a negative ``offset`` are
refused here too (``BAD_USER_INPUT``), so no resolver meets them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from django.conf import settings
from graphql import (
    BREAK,
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLNamedType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    ValueNode,
    VariableNode,
    get_named_type,
    parse,
    value_from_ast_untyped,
)
from graphql.language import Visitor, visit

QUERY_TOO_COMPLEX = "QUERY_TOO_COMPLEX"
BAD_USER_INPUT = "BAD_USER_INPUT"
PAGINATION_ARGUMENTS = ("first", "last")


@dataclass(frozen=True)
class CostLimits:
    max_bytes: int
    max_tokens: int
    max_operations: int
    max_aliases: int
    max_fragment_spreads: int
    max_directives: int
    max_fields: int
    max_depth: int
    max_cost: int
    max_list_items: int
    max_page_size: int
    field_costs: tuple[tuple[str, int], ...] = ()

    @classmethod
    def from_settings(cls) -> CostLimits:
        return cls(
            max_bytes=settings.GRAPHQL_MAX_BYTES,
            max_tokens=settings.GRAPHQL_MAX_TOKENS,
            max_operations=settings.GRAPHQL_MAX_OPERATIONS,
            max_aliases=settings.GRAPHQL_MAX_ALIASES,
            max_fragment_spreads=settings.GRAPHQL_MAX_FRAGMENT_SPREADS,
            max_directives=settings.GRAPHQL_MAX_DIRECTIVES,
            max_fields=settings.GRAPHQL_MAX_FIELDS,
            max_depth=settings.GRAPHQL_MAX_DEPTH,
            max_cost=settings.GRAPHQL_MAX_COST,
            max_list_items=settings.GRAPHQL_MAX_LIST_ITEMS,
            max_page_size=settings.GRAPHENE["RELAY_CONNECTION_MAX_LIMIT"],
            field_costs=tuple(sorted(settings.GRAPHQL_FIELD_COSTS.items())),
        )


def anonymous_limits(limits: CostLimits, *, debug: bool) -> CostLimits:
    """An anonymous request may only ask ``__typename`` (and introspection under DEBUG):
    parse no more of it than that needs (GraphiQL's introspection query is ~3 KB)."""
    if debug:
        return replace(
            limits, max_bytes=min(limits.max_bytes, 20_000), max_tokens=min(limits.max_tokens, 2_000)
        )
    return replace(limits, max_bytes=min(limits.max_bytes, 1_000), max_tokens=min(limits.max_tokens, 100))


class QueryRefused(Exception):
    """The document is refused before validation; ``error`` is the top-level GraphQL error."""

    def __init__(self, error: GraphQLError):
        super().__init__(error.message)
        self.error = error


def too_complex(limit: str, value: int, maximum: int, what: str) -> QueryRefused:
    return QueryRefused(
        GraphQLError(
            f"The query is too complex: {what} {value} over the limit of {maximum}.",
            extensions={"code": QUERY_TOO_COMPLEX, "limit": limit, "value": value, "maximum": maximum},
        )
    )


def _introspection(name: str, parent: GraphQLNamedType | None) -> bool:
    """``__schema``, ``__type`` and every field of an introspection type (``__Type.ofType``):
    the schema's own description, cheap to resolve and bounded by the field count, so they do
    not deepen (GraphiQL's introspection query nests ``ofType`` nine levels deep)."""
    return name.startswith("__") or (parent is not None and parent.name.startswith("__"))


def invalid(message: str, code: str = "GRAPHQL_VALIDATION_FAILED") -> QueryRefused:
    return QueryRefused(GraphQLError(message, extensions={"code": code}))


def parse_bounded(query: str, limits: CostLimits) -> DocumentNode:
    """Parse ``query``, refusing it past the byte and token limits (without lexing the rest)."""
    size = len(query.encode("utf-8", "surrogatepass"))
    if size > limits.max_bytes:
        raise too_complex("bytes", size, limits.max_bytes, "its size in bytes,")
    try:
        return parse(query, no_location=False, max_tokens=limits.max_tokens)
    except GraphQLError as exc:
        if "tokens" in exc.message and "Parsing aborted" in exc.message:
            raise too_complex(
                "tokens", limits.max_tokens + 1, limits.max_tokens, "its number of tokens, over"
            ) from None
        raise


@dataclass
class _Measure:
    fields: int = 0
    depth: int = 0
    cost: int = 0


class _TextCounter(Visitor):
    """Counts the syntactic things whose number is limited as written: no expansion."""

    def __init__(self) -> None:
        super().__init__()
        self.aliases = self.spreads = self.directives = 0

    def enter_field(self, node: FieldNode, *_args: Any) -> None:
        if node.alias is not None:
            self.aliases += 1

    def enter_fragment_spread(self, *_args: Any) -> None:
        self.spreads += 1

    def enter_directive(self, *_args: Any) -> None:
        self.directives += 1


class _Analysis:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: dict, limits: CostLimits):
        self.schema = schema
        self.variables = variables
        self.limits = limits
        self.fragments: dict[str, FragmentDefinitionNode] = {}
        for definition in document.definitions:
            if isinstance(definition, FragmentDefinitionNode):
                self.fragments[definition.name.value] = definition
        self.field_costs = dict(limits.field_costs)
        self.measured: dict[str, _Measure] = {}
        self.visiting: set[str] = set()

    # --- arguments ---------------------------------------------------------------------

    def value_of(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        if isinstance(node, IntValueNode):
            try:
                return int(node.value)
            except ValueError:
                return None
        return None

    def literal(self, node: ValueNode) -> Any:
        if isinstance(node, VariableNode):
            return self.variables.get(node.name.value)
        return value_from_ast_untyped(node, self.variables)

    def check_lists(self, node: ValueNode) -> None:
        if isinstance(node, ListValueNode):
            if len(node.values) > self.limits.max_list_items:
                raise too_complex(
                    "listItems", len(node.values), self.limits.max_list_items, "a list argument's items,"
                )
            for item in node.values:
                self.check_lists(item)
        elif isinstance(node, ObjectValueNode):
            for field in node.fields:
                self.check_lists(field.value)

    def rows(self, field: FieldNode, field_type: Any) -> int:
        """How many rows ``field`` may return: its ``first``/``last``, else the page size for
        a connection, else 1."""
        requested = None
        given = {a.name.value for a in field.arguments if self.literal(a.value) is not None}
        if "offset" in given and "before" in given:
            raise invalid("`offset` and `before` cannot be used together.", BAD_USER_INPUT)
        for argument in field.arguments:
            self.check_lists(argument.value)
            name = argument.name.value
            if name in PAGINATION_ARGUMENTS or name == "offset":
                value = self.value_of(argument.value)
                if isinstance(value, int) and not isinstance(value, bool):
                    if name == "offset" and value < 0:
                        raise invalid("`offset` cannot be negative.", BAD_USER_INPUT)
                    if name != "offset":
                        if not 0 <= value <= self.limits.max_page_size:
                            raise invalid(
                                f"`{name}` must be between 0 and {self.limits.max_page_size}.", BAD_USER_INPUT
                            )
                        requested = value if requested is None else max(requested, value)
        if requested is not None:
            return requested
        named = get_named_type(field_type) if field_type is not None else None
        if named is not None and named.name.endswith("Connection"):
            return self.limits.max_page_size
        return 1

    # --- selections --------------------------------------------------------------------

    def field_type(self, parent: GraphQLNamedType | None, name: str) -> Any:
        fields = getattr(parent, "fields", None)  # object and interface types
        definition = fields.get(name) if fields else None
        return definition.type if definition is not None else None

    def measure(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None) -> _Measure:
        total = _Measure()
        if selection_set is None:
            return total
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                field_type = self.field_type(parent, name)
                child_parent = get_named_type(field_type) if field_type is not None else None
                children = self.measure(selection.selection_set, child_parent)
                rows = self.rows(selection, field_type)
                total.fields += 1 + children.fields
                own = self.field_costs.get(f"{parent.name}.{name}", 1) if parent is not None else 1
                total.cost += own + rows * children.cost
                if selection.selection_set is not None and not _introspection(name, parent):
                    total.depth = max(total.depth, 1 + children.depth)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                inner_parent = self.schema.get_type(condition.name.value) if condition else parent
                self.add(total, self.measure(selection.selection_set, inner_parent))
            elif isinstance(selection, FragmentSpreadNode):
                self.add(total, self.fragment(selection.name.value))
            self.check(total)
        return total

    def fragment(self, name: str) -> _Measure:
        if name in self.measured:
            return self.measured[name]
        definition = self.fragments.get(name)
        if definition is None:
            raise invalid(f"Unknown fragment '{name}'.")
        if name in self.visiting:
            raise invalid(f"Cannot spread fragment '{name}' within itself.")
        self.visiting.add(name)
        measure = self.measure(
            definition.selection_set, self.schema.get_type(definition.type_condition.name.value)
        )
        self.visiting.discard(name)
        self.measured[name] = measure
        return measure

    @staticmethod
    def add(total: _Measure, part: _Measure) -> None:
        total.fields += part.fields
        total.cost += part.cost
        total.depth = max(total.depth, part.depth)

    def check(self, measure: _Measure) -> None:
        limits = self.limits
        if measure.depth > limits.max_depth:
            raise too_complex("depth", measure.depth, limits.max_depth, "its depth,")
        if measure.fields > limits.max_fields:
            raise too_complex(
                "fields", measure.fields, limits.max_fields, "its fields after fragments are expanded,"
            )
        if measure.cost > limits.max_cost:
            raise too_complex("cost", measure.cost, limits.max_cost, "its computed cost,")


@dataclass(frozen=True)
class DocumentCost:
    fields: int
    depth: int
    cost: int


def check_document(
    schema: GraphQLSchema, document: DocumentNode, variables: Any, limits: CostLimits
) -> DocumentCost:
    """Refuse ``document`` (QueryRefused) past any limit; its numbers otherwise.

    Linear in the document's size: every fragment is measured once. Unknown and cyclic
    fragments are refused here with the validation error the rules would give."""
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) > limits.max_operations:
        raise too_complex("operations", len(operations), limits.max_operations, "its number of operations,")
    counter = _TextCounter()
    visit(document, counter)
    if counter.aliases > limits.max_aliases:
        raise too_complex("aliases", counter.aliases, limits.max_aliases, "its number of aliases,")
    if counter.spreads > limits.max_fragment_spreads:
        raise too_complex(
            "fragmentSpreads", counter.spreads, limits.max_fragment_spreads, "its number of fragment spreads,"
        )
    if counter.directives > limits.max_directives:
        raise too_complex(
            "directives", counter.directives, limits.max_directives, "its number of directives,"
        )
    variables = variables if isinstance(variables, dict) else {}
    for value in variables.values():
        _check_variable_lists(value, limits)
    analysis = _Analysis(schema, document, variables, limits)
    worst = _Measure()
    for operation in operations:
        # Each operation sees its own variable defaults, so fragments are measured afresh.
        defaults = {
            d.variable.name.value: value_from_ast_untyped(d.default_value)
            for d in operation.variable_definitions
            if d.default_value is not None
        }
        analysis = _Analysis(schema, document, {**defaults, **variables}, limits)
        root = {
            OperationType.QUERY: schema.query_type,
            OperationType.MUTATION: schema.mutation_type,
            OperationType.SUBSCRIPTION: schema.subscription_type,
        }[operation.operation]
        for definition in operation.variable_definitions:
            if definition.default_value is not None:
                analysis.check_lists(definition.default_value)
        measure = analysis.measure(operation.selection_set, root)
        worst = _Measure(
            fields=max(worst.fields, measure.fields),
            depth=max(worst.depth, measure.depth),
            cost=max(worst.cost, measure.cost),
        )
    # Fragments no operation spreads are still checked (validation would walk them).
    for name in analysis.fragments:
        analysis.fragment(name)
    return DocumentCost(fields=worst.fields, depth=worst.depth, cost=worst.cost)


# The arguments whose variables ``check_document`` reads (``rows``): a page's size, and the
# offset/before pair it refuses together. Nothing else a variable gives changes its answer.
_VARIABLE_READ_ARGUMENTS = frozenset({*PAGINATION_ARGUMENTS, "offset", "before"})


def _has_variable(node: ValueNode) -> bool:
    if isinstance(node, VariableNode):
        return True
    if isinstance(node, ListValueNode):
        return any(_has_variable(item) for item in node.values)
    if isinstance(node, ObjectValueNode):
        return any(_has_variable(field.value) for field in node.fields)
    return False


class _VariableReads(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_argument(self, node: ArgumentNode, *_args: Any) -> Any:
        if node.name.value in _VARIABLE_READ_ARGUMENTS and _has_variable(node.value):
            self.found = True
            return BREAK
        return None


def reads_variables(document: DocumentNode) -> bool:
    """Whether a variable's value can change :func:`check_document`'s answer for ``document``
    beyond the items of its lists: only a ``first``/``last``/``offset``/``before`` argument
    given by a variable does. A document without one (a write-off, any mutation without
    paging) is measured once, when it is first validated, with its defaults; each request
    then only checks its variables' lists (:func:`check_variables`)."""
    reads = _VariableReads()
    visit(document, reads)
    return reads.found


def check_variables(
    schema: GraphQLSchema, document: DocumentNode, variables: Any, limits: CostLimits, *, reads: bool
) -> None:
    """The per-request part of the cost check of a document already checked without
    variables: the whole check again when its variables are read (``reads``, from
    :func:`reads_variables`), else only the variables' list items."""
    if reads:
        check_document(schema, document, variables, limits)
    elif isinstance(variables, dict):
        for value in variables.values():
            _check_variable_lists(value, limits)


def _check_variable_lists(value: Any, limits: CostLimits, depth: int = 0) -> None:
    if depth > 20:
        raise invalid("Variables are nested too deeply.", BAD_USER_INPUT)
    if isinstance(value, list):
        if len(value) > limits.max_list_items:
            raise too_complex("listItems", len(value), limits.max_list_items, "a list argument's items,")
        for item in value:
            _check_variable_lists(item, limits, depth + 1)
    elif isinstance(value, dict):
        for item in value.values():
            _check_variable_lists(item, limits, depth + 1)
