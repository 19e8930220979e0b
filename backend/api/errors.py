"""Errors every service and API layer shares.

Services raise :class:`ServiceError` for expected outcomes (validation, not found,
invalid state); mutations turn them into payload data ``errors { field code message }``.
Authentication and authorization failures are top-level GraphQL errors instead, with a
stable ``extensions.code``: see :mod:`backend.api.permissions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import ValidationError


class CommonErrorCode(StrEnum):
    INVALID = "INVALID"
    REQUIRED = "REQUIRED"
    TOO_LONG = "TOO_LONG"
    DUPLICATE = "DUPLICATE"
    NOT_FOUND = "NOT_FOUND"
    INVALID_STATE = "INVALID_STATE"
    OUT_OF_RANGE = "OUT_OF_RANGE"


@dataclass(frozen=True)
class FieldError:
    code: str
    message: str
    field: str | None = None


class ServiceError(Exception):
    """One or more expected failures of a service call; nothing was written."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        super().__init__("; ".join(f"{e.field or '-'}: {e.code} {e.message}" for e in errors))

    @classmethod
    def single(cls, code: str, message: str, field: str | None = None) -> ServiceError:
        return cls([FieldError(code=str(code), message=message, field=field)])

    @classmethod
    def not_found(cls, field: str, what: str) -> ServiceError:
        return cls.single(CommonErrorCode.NOT_FOUND, f"{what} not found.", field)


class ErrorCollector:
    """Collects field errors while a service validates its input, then raises them all."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def add(self, field: str | None, code: str, message: str) -> None:
        self.errors.append(FieldError(code=str(code), message=message, field=field))

    def require_text(self, field: str, value: str | None, *, max_length: int) -> None:
        if value is None or not value.strip():
            self.add(field, CommonErrorCode.REQUIRED, "This field is required.")
        elif len(value) > max_length:
            self.add(field, CommonErrorCode.TOO_LONG, f"At most {max_length} characters.")

    def add_django(self, error: ValidationError, *, field: str | None = None) -> None:
        for name, messages in getattr(error, "error_dict", {None: error.error_list}).items():
            for item in messages:
                self.add(field or name, CommonErrorCode.INVALID, " ".join(item.messages))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ServiceError(self.errors)

    def __bool__(self) -> bool:
        return bool(self.errors)
