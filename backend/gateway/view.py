"""The /graphql/ endpoint: authenticates the caller, limits depth, hides internals."""

from __future__ import annotations

import functools
import logging
from types import SimpleNamespace

from django.conf import settings
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseNotAllowed, JsonResponse, QueryDict
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from graphene.validation import DisableIntrospection, depth_limit_validator
from graphene_django.settings import graphene_settings
from graphene_django.views import GraphQLView, HttpError
from graphql import (
    DocumentNode,
    ExecutionContext,
    ExecutionResult,
    GraphQLError,
    GraphQLSchema,
    OperationType,
    execute,
    get_operation_ast,
    parse,
    specified_rules,
    validate,
)

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


@functools.cache
def validation_rules(*, debug: bool, max_depth: int) -> tuple:
    """graphene-django *replaces* graphql-core's standard rules with the view's: keep them."""
    rules = [*specified_rules, depth_limit_validator(max_depth=max_depth)]
    if not debug:
        rules.append(DisableIntrospection)
    return tuple(rules)


CACHED_DOCUMENT_MAX_CHARS = 20_000


@functools.lru_cache(maxsize=256)
def valid_document(schema: GraphQLSchema, rules: tuple, query: str) -> DocumentNode:
    """The parsed document of a query that passed validation (raises on the first failure).

    Clients send the same few operations over and over: parsing and validating one costs
    about 2 ms, a third of a write-off's Python time, so each valid document is kept (keyed
    by its text, the schema and the rules; graphql-core never mutates a document). Invalid
    queries raise, and lru_cache keeps nothing for them.
    """
    document = parse(query)
    errors = validate(schema, document, rules, graphene_settings.MAX_VALIDATION_ERRORS)
    if errors:
        raise _Invalid(errors)
    return document


class SyncExecutionContext(ExecutionContext):
    """Every resolver here is synchronous: skip graphql-core's awaitable check on each value
    (called about four times per field, ~6% of a 100-row list's time)."""

    @staticmethod
    def is_awaitable(value) -> bool:
        return False


class _Invalid(Exception):
    def __init__(self, errors: list[GraphQLError]):
        super().__init__("invalid document")
        self.errors = errors


@method_decorator(csrf_exempt, name="dispatch")
class ApiGraphQLView(GraphQLView):
    def __init__(self, **kwargs):
        rules = validation_rules(debug=settings.DEBUG, max_depth=settings.GRAPHQL_MAX_DEPTH)
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
        return super().dispatch(request, *args, **kwargs)

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
        schema = self.schema.graphql_schema
        try:
            if len(query) <= CACHED_DOCUMENT_MAX_CHARS:
                document = valid_document(schema, self.validation_rules, query)
            else:
                document = valid_document.__wrapped__(schema, self.validation_rules, query)
        except _Invalid as invalid:
            return ExecutionResult(data=None, errors=invalid.errors)
        except Exception as exc:  # noqa: BLE001 - a syntax error, as graphene-django reports it
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
            return execute(
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
            return ExecutionResult(errors=[exc])

    @staticmethod
    def format_error(error):
        formatted = GraphQLView.format_error(error)
        original = getattr(error, "original_error", None)
        if original is not None and not isinstance(original, GraphQLError):
            # An unexpected exception: log it whole, tell the client nothing internal.
            logger.error("graphql.unhandled_error", exc_info=original)
            formatted["message"] = "Internal error."
            formatted["extensions"] = {"code": "INTERNAL_ERROR"}
        elif isinstance(error, GraphQLError) and not (error.extensions or {}).get("code"):
            formatted.setdefault("extensions", {})["code"] = "GRAPHQL_VALIDATION_FAILED"
        return formatted
