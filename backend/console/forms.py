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


MINOR_DIGITS = {"JPY": 0, "KRW": 0}


class MoneyField(forms.DecimalField):
    """An amount typed in major units ("5.00") that becomes the API's Money (500 minor units).

    Only the unit changes here; whether the amount is allowed is the API's answer."""

    def __init__(self, *, digits: int = 2, **kwargs):
        self.digits = digits
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("decimal_places", digits)
        kwargs.setdefault("max_digits", 15)
        super().__init__(**kwargs)

    def clean(self, value):
        amount = super().clean(value)
        return None if amount is None else int(amount.scaleb(self.digits))


class PercentField(forms.DecimalField):
    """A percentage typed as "15" or "12.5" that becomes the API's basis points (1500, 1250)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", 100)
        kwargs.setdefault("decimal_places", 2)
        kwargs.setdefault("max_digits", 5)
        super().__init__(**kwargs)

    def clean(self, value):
        percent = super().clean(value)
        return None if percent is None else int(percent.scaleb(2))


def api_input(form: forms.BaseForm, *, skip: Iterable[str] = ()) -> dict[str, Any]:
    """A valid form's values as an API input object: camelCase keys, empty values left out."""
    from graphene.utils.str_converters import to_camel_case

    return {
        to_camel_case(name): value
        for name, value in form.cleaned_data.items()
        if name not in skip and value not in (None, "", [])
    }
