"""Error codes of the webhooks API (see backend.api.errors for the shared ones)."""

from enum import StrEnum


class WebhookErrorCode(StrEnum):
    INVALID_URL = "INVALID_URL"
    HTTPS_REQUIRED = "HTTPS_REQUIRED"
    PRIVATE_TARGET = "PRIVATE_TARGET"
    UNRESOLVABLE_HOST = "UNRESOLVABLE_HOST"
    UNKNOWN_EVENT_TYPE = "UNKNOWN_EVENT_TYPE"
    ENDPOINT_DISABLED = "ENDPOINT_DISABLED"
    TOO_MANY_ENDPOINTS = "TOO_MANY_ENDPOINTS"
