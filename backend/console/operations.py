"""The console's one way to read and write: a documented operation, run in-process as the member.

``run_operation(request, "campaigns_list", {"first": 50})`` loads
``graphql/operations/campaigns_list.graphql``, checks it exactly as the /graphql/ view checks a
client's document (cost limits, input limits, validation; the parsed document is cached), and
executes it against the schema graphene-django is configured with (``GRAPHENE["SCHEMA"]``),
with the request as context and ``request.caller`` = the signed-in member. So a page can do
exactly what the API lets that member do, and fails with the API's own codes.

Top-level GraphQL errors (UNAUTHENTICATED, FORBIDDEN, NOT_FOUND, ...) raise :class:`ApiError`,
which :class:`backend.console.middleware.ConsoleMiddleware` turns into a page with the right
status and the code shown. A mutation's payload ``errors { field code message }`` are data: see
:func:`backend.console.forms.add_api_errors`.
"""

from __future__ import annotations

import functools
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from graphene_django.settings import graphene_settings
from graphene_django.views import instantiate_middleware
from graphql import GraphQLError, execute

from backend.api import cost, inputs
from backend.gateway.view import SyncExecutionContext, valid_document, validation_rules

from .members import member_caller

logger = logging.getLogger(__name__)

OPERATIONS_DIR = settings.BASE_DIR / "graphql" / "operations"
_NAME = re.compile(r"^[a-z0-9_]+$")

# Top-level codes and the HTTP status of the page that shows them.
STATUS_OF_CODE = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "SERVICE_UNAVAILABLE": 503,
    "INTERNAL_ERROR": 500,
}


class ApiError(Exception):
    """A top-level GraphQL error (or several): the page cannot be shown; ``code`` decides how."""

    def __init__(self, code: str, message: str, *, errors: list[dict] | None = None):
        self.code = code
        self.message = message
        self.errors = errors or [{"message": message, "code": code, "path": None}]
        super().__init__(f"{code}: {message}")

    @property
    def status(self) -> int:
        return STATUS_OF_CODE.get(self.code, 400)


@dataclass
class OperationResult:
    data: dict[str, Any] | None
    errors: list[dict[str, Any]] = field(default_factory=list)  # {message, code, path}

    @property
    def codes(self) -> list[str]:
        return [e["code"] for e in self.errors]

    def raise_for_errors(self) -> OperationResult:
        if self.errors:
            first = self.errors[0]
            raise ApiError(first["code"], first["message"], errors=self.errors)
        return self


@functools.cache
def operation_text(name: str) -> str:
    """The text of graphql/operations/<name>.graphql (read once per process)."""
    if not _NAME.match(name):
        raise ValueError(f"Not an operation name: {name!r}")
    return (OPERATIONS_DIR / f"{name}.graphql").read_text()


@functools.cache
def _middleware() -> tuple:
    return tuple(instantiate_middleware(graphene_settings.MIDDLEWARE))


def _formatted(error: GraphQLError) -> dict[str, Any]:
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        # An unexpected exception in a resolver: logged whole, shown as the API shows it.
        logger.error("console.operation_error", exc_info=original)
        return {"message": "Internal error.", "code": "INTERNAL_ERROR", "path": error.path}
    code = (error.extensions or {}).get("code") or "GRAPHQL_VALIDATION_FAILED"
    return {"message": error.message, "code": code, "path": error.path}


def run_operation(
    request: HttpRequest, name: str, variables: dict[str, Any] | None = None, *, check: bool = True
) -> OperationResult:
    """Runs one documented operation as the request's member.

    With ``check`` (the default) any top-level error raises :class:`ApiError`; pass
    ``check=False`` to look at ``result.errors`` yourself. Payload errors are in ``data``.
    """
    caller = member_caller(request)
    if caller is None:
        raise ApiError("UNAUTHENTICATED", "Sign in first.")
    request.caller = caller  # what the resolvers read, as on /graphql/
    schema = graphene_settings.SCHEMA.graphql_schema
    query = operation_text(name)
    limits = cost.CostLimits.from_settings()
    try:
        if variables:
            inputs.check_variables(variables)
        document = valid_document(schema, validation_rules(debug=settings.DEBUG), query, limits)
        if variables:
            cost.check_document(schema, document, variables, limits)
    except cost.QueryRefused as refused:
        result = OperationResult(data=None, errors=[_formatted(refused.error)])
    except GraphQLError as error:
        result = OperationResult(data=None, errors=[_formatted(error)])
    except Exception as exc:  # valid_document's _Invalid: an operation file that no longer validates
        errors = getattr(exc, "errors", None)
        if errors is None:
            raise
        result = OperationResult(data=None, errors=[_formatted(e) for e in errors])
    else:
        executed = execute(
            schema,
            document,
            context_value=request,
            variable_values=variables,
            middleware=list(_middleware()),
            execution_context_class=SyncExecutionContext,
        )
        result = OperationResult(data=executed.data, errors=[_formatted(e) for e in executed.errors or ()])
    if check:
        result.raise_for_errors()
    return result


def payload_errors(payload: dict[str, Any] | None, *, target: str = "id") -> list[dict[str, Any]]:
    """A mutation payload's ``errors { field code message }`` (empty when it succeeded).

    A NOT_FOUND on the argument naming the object acted on (``target``, "id" by default) is
    not a form error: the page does not exist for this member, so it raises the 404 page."""
    errors = list((payload or {}).get("errors") or [])
    for error in errors:
        if error["code"] == "NOT_FOUND" and error.get("field") in (target, None):
            raise ApiError("NOT_FOUND", error["message"])
    return errors
