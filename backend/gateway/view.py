"""The /graphql/ endpoint: authenticates the caller, bounds the document's cost, hides internals.

Order of work: credentials first (an anonymous request may only ask ``__typename``, and
introspection under DEBUG), then the document's size and cost on its syntax tree
(:mod:`backend.api.cost`), then validation and execution. Every failure answers JSON with
``extensions.code``: 503 SERVICE_UNAVAILABLE when PostgreSQL cannot be reached.
"""

from __future__ import annotations

import functools
import logging
from types import SimpleNamespace

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseNotAllowed, JsonResponse, QueryDict
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from graphene.relay.node import GlobalID
from graphene.types.resolver import dict_or_attr_resolver as graphene_default_resolver
from graphene_django import DjangoObjectType
from graphene_django.settings import graphene_settings
from graphene_django.views import GraphQLView, HttpError
from graphql import (
    DocumentNode,
    ExecutionContext,
    ExecutionResult,
    FieldNode,
    GraphQLError,
    GraphQLField,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    Undefined,
    ValidationRule,
    execute,
    get_nullable_type,
    get_operation_ast,
    is_leaf_type,
    specified_rules,
    validate,
)

from backend.api import cost, inputs
from backend.gateway.authentication import (
    AuthenticationFailed,
    authenticate_api_key,
    authenticate_terminal,
)

logger = logging.getLogger(__name__)

TERMINAL_HEADERS = ("HTTP_X_TERMINAL_ID", "HTTP_X_TIMESTAMP", "HTTP_X_NONCE", "HTTP_X_SIGNATURE")


def _error_response(code: str, message: str, status: int) -> JsonResponse:
    body = {"data": None, "errors": [{"message": message, "extensions": {"code": code}}]}
    return JsonResponse(body, status=status)


def authenticate_request(request: HttpRequest):
    """The Caller named by the request's credentials, None if it has none."""
    meta = request.META
    authorization = meta.get("HTTP_AUTHORIZATION", "")
    has_terminal = any(meta.get(h) for h in TERMINAL_HEADERS)
    if authorization and has_terminal:
        raise AuthenticationFailed("UNAUTHENTICATED", "Send an API key or a terminal signature, not both.")
    if has_terminal:
        return authenticate_terminal(
            terminal_uid=meta.get("HTTP_X_TERMINAL_ID", ""),
            timestamp=meta.get("HTTP_X_TIMESTAMP", ""),
            nonce=meta.get("HTTP_X_NONCE", ""),
            signature=meta.get("HTTP_X_SIGNATURE", ""),
            method=request.method,
            path=request.path,
            query=meta.get("QUERY_STRING", ""),
            body=request.body,
        )
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("UNAUTHENTICATED", "Use 'Authorization: Bearer <api key>'.")
        return authenticate_api_key(token.strip())
    return None


def database_unreachable(exc: BaseException | None) -> bool:
    """A connection failure (no SQLSTATE), not a deadlock, a timeout or a constraint."""
    while exc is not None:
        if isinstance(exc, OperationalError | InterfaceError):
            return getattr(exc.__cause__, "pgcode", None) is None
        exc = exc.__cause__ or getattr(exc, "original_error", None)
    return False


def service_unavailable() -> JsonResponse:
    return _error_response("SERVICE_UNAVAILABLE", "The service is unavailable; try again shortly.", 503)


class IntrospectionDisabled(ValidationRule):
    """Like graphene's DisableIntrospection, but ``__typename`` stays allowed: Apollo and
    Relay add it to every selection."""

    def enter_field(self, node: FieldNode, *_args) -> None:
        if node.name.value in ("__schema", "__type"):
            self.report_error(
                GraphQLError(
                    f"Cannot query '{node.name.value}': introspection is disabled.",
                    node,
                )
            )


@functools.cache
def validation_rules(*, debug: bool) -> tuple:
    """graphene-django *replaces* graphql-core's standard rules with the view's: keep them.
    Depth is limited by backend.api.cost, before validation, linearly in fragments."""
    rules = list(specified_rules)
    if not debug:
        rules.append(IntrospectionDisabled)
    return tuple(rules)


ANONYMOUS_FIELDS = frozenset({"__typename"})
ANONYMOUS_FIELDS_DEBUG = frozenset({"__typename", "__schema", "__type"})


def anonymous_may_run(document: DocumentNode) -> bool:
    """Without credentials only ``__typename`` (and, under DEBUG, introspection) runs."""
    allowed = ANONYMOUS_FIELDS_DEBUG if settings.DEBUG else ANONYMOUS_FIELDS
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            for selection in definition.selection_set.selections:
                if not isinstance(selection, FieldNode) or selection.name.value not in allowed:
                    return False
    return True


CACHED_DOCUMENT_MAX_CHARS = 20_000


@functools.lru_cache(maxsize=256)
def valid_document(schema: GraphQLSchema, rules: tuple, query: str, limits: cost.CostLimits) -> DocumentNode:
    """The parsed document of a query within the cost limits that passed validation
    (raises QueryRefused past a limit, _Invalid on the first validation failure).

    Clients send the same few operations over and over: parsing and validating one costs
    about 2 ms, a third of a write-off's Python time, so each valid document is kept (keyed
    by its text, the schema, the rules and the limits; graphql-core never mutates a
    document). Refused and invalid queries raise, and lru_cache keeps nothing for them.
    """
    document = cost.parse_bounded(query, limits)
    cost.check_document(schema, document, {}, limits)
    inputs.check_document(document)
    errors = validate(schema, document, rules, graphene_settings.MAX_VALIDATION_ERRORS)
    if errors:
        raise _Invalid(errors)
    return document


_variables_read: dict[str, bool] = {}


def variables_read(query: str, document: DocumentNode) -> bool:
    """cost.reads_variables of a cached valid document, kept by its text like the document:
    a write-off's variables (code, amount, key) cannot change its cost, so its request skips
    the second walk of the syntax tree (about a tenth of a write-off's Python time)."""
    reads = _variables_read.get(query)
    if reads is None:
        reads = cost.reads_variables(document)
        if len(_variables_read) >= 1024:
            _variables_read.clear()
        _variables_read[query] = reads
    return reads


def _leaf_plan(field: GraphQLField, parent_type_name: str) -> tuple | None:
    """How to answer a leaf field without graphql-core's per-field machinery, or None:

    - ("attr", attribute, default, leaf type): graphene's default resolver reads an attribute;
    - ("id", node, type name, leaf type): the relay global id of a DjangoObjectType's pk.
    """
    resolve = field.resolve
    leaf = get_nullable_type(field.type)
    if field.args or not is_leaf_type(leaf) or not isinstance(resolve, functools.partial):
        return None
    if resolve.func is graphene_default_resolver and len(resolve.args) == 2 and not resolve.keywords:
        return ("attr", resolve.args[0], resolve.args[1], leaf)
    if (
        resolve.func is GlobalID.id_resolver
        and len(resolve.args) == 2
        and resolve.args[0] is DjangoObjectType.resolve_id
        and set(resolve.keywords) <= {"parent_type_name"}
    ):
        return ("id", resolve.args[1], resolve.keywords.get("parent_type_name") or parent_type_name, leaf)
    return None


_NO_PLAN = object()


class SyncExecutionContext(ExecutionContext):
    """Every resolver here is synchronous: skip graphql-core's awaitable check on each value
    (called about four times per field, ~6% of a 100-row list's time).

    Leaf fields read by graphene's default resolver (most of a list's cells) take a short
    path: the attribute is read and serialized by the field's own scalar or enum, exactly as
    graphql-core would, without building a GraphQLResolveInfo, an argument dict and the
    completion calls for each cell. Anything unusual (middleware, a null, a serialization
    error, a callable) goes the general way, so errors and nulls come out as before.
    """

    @staticmethod
    def is_awaitable(value) -> bool:
        return False

    def execute_field(self, parent_type, source, field_nodes, path):
        field_def = parent_type.fields.get(field_nodes[0].name.value)
        middleware = self.middleware_manager  # graphene-django passes one, empty, always
        if field_def is not None and (middleware is None or not middleware.middlewares):
            plan = getattr(field_def, "_leaf_plan", _NO_PLAN)  # kept on the schema's own field
            if plan is _NO_PLAN:
                plan = _leaf_plan(field_def, parent_type.name)
                field_def._leaf_plan = plan
            if plan is not None:
                kind, first, second, leaf = plan
                if kind == "id":
                    pk = getattr(source, "pk", None)
                    value = None if pk is None else first.to_global_id(second, pk)
                else:
                    value = (
                        source.get(first, second)
                        if isinstance(source, dict)
                        else getattr(source, first, second)
                    )
                if value is not None and value is not Undefined and not callable(value):
                    try:
                        serialized = leaf.serialize(value)
                    except Exception:  # noqa: BLE001 - the general path reports it, located
                        serialized = None
                    if serialized is not None and serialized is not Undefined:
                        return serialized
        return super().execute_field(parent_type, source, field_nodes, path)


class _Invalid(Exception):
    def __init__(self, errors: list[GraphQLError]):
        super().__init__("invalid document")
        self.errors = errors


_graphene_dispatch = GraphQLView.dispatch.__wrapped__  # under @method_decorator(ensure_csrf_cookie)


@method_decorator(csrf_exempt, name="dispatch")
class ApiGraphQLView(GraphQLView):
    graphiql_template = "gateway/graphiql.html"

    def __init__(self, **kwargs):
        rules = validation_rules(debug=settings.DEBUG)
        kwargs.setdefault("validation_rules", rules)
        kwargs["graphiql"] = settings.DEBUG
        kwargs.setdefault("execution_context_class", SyncExecutionContext)
        super().__init__(**kwargs)

    def dispatch(self, request, *args, **kwargs):
        if request.method not in ("GET", "POST"):
            return _error_response("METHOD_NOT_ALLOWED", "Use GET or POST.", 405)
        try:
            request.caller = authenticate_request(request)
        except AuthenticationFailed as exc:
            return _error_response(exc.code, exc.message, 401)
        except Exception as exc:
            return self._failure(exc)
        try:
            if request.caller is None:
                response = super().dispatch(request, *args, **kwargs)
            else:
                # graphene-django's dispatch without its ensure_csrf_cookie: the cookie is for
                # GraphiQL in a browser; a caller with a key or a terminal signature never
                # sends it (this view is csrf-exempt), and minting and signing it was ~5 % of
                # a write-off's Python time.
                response = _graphene_dispatch(self, request, *args, **kwargs)
        except Exception as exc:
            return self._failure(exc)
        if getattr(request, "_database_unreachable", False):
            return service_unavailable()
        return response

    @staticmethod
    def _failure(exc: Exception) -> JsonResponse:
        """Whatever escaped graphene-django still answers JSON with a code, also under DEBUG."""
        if database_unreachable(exc):
            logger.warning("graphql.database_unreachable: %s", type(exc).__name__)
            return service_unavailable()
        logger.error("graphql.unhandled_error", exc_info=exc)
        return _error_response("INTERNAL_ERROR", "Internal error.", 500)

    def render_graphiql(self, request, **data):
        """GraphiQL (DEBUG only) from the vendored files under static/gateway/graphiql/: no
        CDN, so it works offline; graphene-django's versions and SRI hashes are not needed."""
        settings_for_page = {
            "graphiqlHeaderEditorEnabled": bool(data["graphiql_header_editor_enabled"]),
            "graphiqlShouldPersistHeaders": bool(data["graphiql_should_persist_headers"]),
            "graphiqlInputValueDeprecation": bool(data["graphiql_input_value_deprecation"]),
        }
        if data.get("subscription_path"):
            settings_for_page["subscriptionPath"] = data["subscription_path"]
        return render(request, self.graphiql_template, {"graphene_settings": settings_for_page})

    def get_response(self, request, data, show_graphiql=False):
        if not isinstance(data, dict):
            raise HttpError(HttpResponseBadRequest("The request body must be a JSON object."))
        result, status = super().get_response(request, data, show_graphiql)
        return result, getattr(request, "_graphql_status", status)

    @staticmethod
    def get_graphql_params(request, data):
        """A POST's operation comes from its body alone, never from the URL's query string:
        what runs is exactly what the caller sent as the body (and a till signed)."""
        if request.method == "POST":
            request = SimpleNamespace(GET=QueryDict())
        return GraphQLView.get_graphql_params(request, data)

    def execute_graphql_request(self, request, data, query, variables, operation_name, show_graphiql=False):
        """graphene-django's, with the parsed and validated document cached (valid_document).

        Mutations are not wrapped in a transaction here: each service owns its transactions.
        """
        if not query:
            if show_graphiql:
                return None
            raise HttpError(HttpResponseBadRequest("Must provide query string."))
        if not isinstance(query, str):
            raise HttpError(HttpResponseBadRequest("`query` must be a string."))
        if variables is not None and not isinstance(variables, dict):
            raise HttpError(HttpResponseBadRequest("`variables` must be a JSON object."))
        if operation_name is not None and not isinstance(operation_name, str):
            raise HttpError(HttpResponseBadRequest("`operationName` must be a string."))
        schema = self.schema.graphql_schema
        limits = cost.CostLimits.from_settings()
        caller = getattr(request, "caller", None)
        try:
            inputs.check_query_text(query)
            if variables:
                inputs.check_variables(variables)
            if caller is None:
                # Anonymous: a small parse of a small document, and only __typename runs.
                limits = cost.anonymous_limits(limits, debug=settings.DEBUG)
                try:
                    allowed = anonymous_may_run(cost.parse_bounded(query, limits))
                except (cost.QueryRefused, GraphQLError):
                    allowed = False
                if not allowed:
                    raise cost.QueryRefused(
                        GraphQLError("Authentication required.", extensions={"code": "UNAUTHENTICATED"})
                    )
            if len(query) <= CACHED_DOCUMENT_MAX_CHARS:
                document = valid_document(schema, self.validation_rules, query, limits)
                if variables:
                    reads = variables_read(query, document)
                    cost.check_variables(schema, document, variables, limits, reads=reads)
            else:
                document = valid_document.__wrapped__(schema, self.validation_rules, query, limits)
                if variables:
                    cost.check_document(schema, document, variables, limits)
        except cost.QueryRefused as refused:
            logger.warning("graphql.refused: %s", refused.error.message)
            if (refused.error.extensions or {}).get("code") == "UNAUTHENTICATED":
                request._graphql_status = 401
            return ExecutionResult(data=None, errors=[refused.error])
        except _Invalid as invalid:
            return ExecutionResult(data=None, errors=invalid.errors)
        except GraphQLError as exc:  # a syntax error, as graphene-django reports it
            return ExecutionResult(errors=[exc])
        operation = get_operation_ast(document, operation_name)
        if (
            request.method.lower() == "get"
            and operation is not None
            and operation.operation != OperationType.QUERY
        ):
            if show_graphiql:
                return None
            raise HttpError(
                HttpResponseNotAllowed(
                    ["POST"], f"Can only perform a {operation.operation.value} operation from a POST request."
                )
            )
        try:
            result = execute(
                schema,
                document,
                root_value=self.get_root_value(request),
                context_value=self.get_context(request),
                variable_values=variables,
                operation_name=operation_name,
                middleware=self.get_middleware(request),
                execution_context_class=self.execution_context_class,
            )
        except Exception as exc:  # noqa: BLE001 - graphene-django's contract: an error, not a 500
            if database_unreachable(exc):
                raise
            return ExecutionResult(errors=[exc])
        if any(database_unreachable(getattr(e, "original_error", None)) for e in result.errors or ()):
            request._database_unreachable = True
        return result

    @staticmethod
    def format_error(error):
        formatted = GraphQLView.format_error(error)
        original = getattr(error, "original_error", None)
        if isinstance(error, HttpError):
            status = error.response.status_code
            formatted["extensions"] = {"code": "METHOD_NOT_ALLOWED" if status == 405 else "BAD_REQUEST"}
        elif database_unreachable(original):
            logger.warning("graphql.database_unreachable: %s", type(original).__name__)
            formatted["message"] = "The service is unavailable; try again shortly."
            formatted["extensions"] = {"code": "SERVICE_UNAVAILABLE"}
        elif original is not None and not isinstance(original, GraphQLError):
            # An unexpected exception: log it whole, tell the client nothing internal.
            logger.error("graphql.unhandled_error", exc_info=original)
            formatted["message"] = "Internal error."
            formatted["extensions"] = {"code": "INTERNAL_ERROR"}
        elif isinstance(error, GraphQLError) and not (error.extensions or {}).get("code"):
            formatted.setdefault("extensions", {})["code"] = "GRAPHQL_VALIDATION_FAILED"
        if not settings.DEBUG and " Did you mean" in formatted.get("message", ""):
            # With introspection off, suggestions would reveal the schema's names.
            formatted["message"] = formatted["message"].split(" Did you mean", 1)[0]
        return formatted
