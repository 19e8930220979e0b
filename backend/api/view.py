"""The /graphql/ endpoint: authenticates the caller, limits depth, hides internals."""

from __future__ import annotations

import logging

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from graphene.validation import DisableIntrospection, depth_limit_validator
from graphene_django.views import GraphQLView
from graphql import GraphQLError, specified_rules

from backend.merchants.authentication import (
    AuthenticationFailed,
    authenticate_api_key,
    authenticate_terminal,
)

logger = logging.getLogger(__name__)

TERMINAL_HEADERS = ("HTTP_X_TERMINAL_ID", "HTTP_X_TIMESTAMP", "HTTP_X_SIGNATURE")


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
            signature=meta.get("HTTP_X_SIGNATURE", ""),
            body=request.body,
        )
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise AuthenticationFailed("UNAUTHENTICATED", "Use 'Authorization: Bearer <api key>'.")
        return authenticate_api_key(token.strip())
    return None


@method_decorator(csrf_exempt, name="dispatch")
class ApiGraphQLView(GraphQLView):
    def __init__(self, **kwargs):
        # graphene-django *replaces* graphql-core's standard rules with these: keep them.
        rules = [*specified_rules, depth_limit_validator(max_depth=settings.GRAPHQL_MAX_DEPTH)]
        if not settings.DEBUG:
            rules.append(DisableIntrospection)
        kwargs.setdefault("validation_rules", tuple(rules))
        kwargs["graphiql"] = settings.DEBUG
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
