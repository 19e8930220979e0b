"""Forms of the console: the API's payload errors shown next to their fields.

``add_api_errors(form, payload["errors"])`` puts each ``{field code message}`` on the form
field of the same name (camelCase -> snake_case, or ``fields={"apiName": "form_name"}``), or
on the form as a whole when the field is null or not on the form. The code stays with the
error (``ValidationError.code``) and templates write it as ``data-code`` (STYLE.md 23).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from graphene.utils.str_converters import to_snake_case


def add_api_errors(
    form: forms.BaseForm, errors: Iterable[Mapping[str, Any]], *, fields: Mapping[str, str] | None = None
) -> None:
    for error in errors:
        api_field = error.get("field")
        name = (fields or {}).get(api_field) if api_field else None
        if name is None and api_field:
            name = to_snake_case(api_field)
        if name not in form.fields:
            name = None
        form.add_error(name, ValidationError(error.get("message") or error["code"], code=error["code"]))


def error_codes(form: forms.BaseForm) -> dict[str, list[str]]:
    """Every error code on a form, by field ("__all__" for the form's own): for tests and logs."""
    return {name: [e.code for e in errs.as_data()] for name, errs in form.errors.items()}
