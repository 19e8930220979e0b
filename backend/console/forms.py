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
from django.utils.translation import gettext, ngettext
from graphene.utils.str_converters import to_snake_case

from backend.api.currencies import exponent, to_minor


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


class MoneyField(forms.DecimalField):
    """An amount typed in major units ("5.00") that becomes the API's Money (minor units).

    The field cleans to a Decimal; the form, which knows the currency, turns it into minor
    units with ``money_to_minor`` (JPY 0 decimals, CNY 2, KWD 3: ISO 4217, backend/api/
    currencies.py). Whether the amount is allowed is the API's answer."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_digits", 18)
        super().__init__(**kwargs)


def money_to_minor(form: forms.BaseForm, currency: str | None) -> None:
    """Every MoneyField's cleaned Decimal -> integer minor units of ``currency``; an amount with
    more decimals than the currency has is a field error (code TOO_MANY_DECIMALS), never
    rounded. Call from the form's ``clean()``."""
    digits = exponent(currency)
    for name, field in form.fields.items():
        amount = form.cleaned_data.get(name)
        if not isinstance(field, MoneyField) or amount is None:
            continue
        minor = to_minor(amount, currency)
        if minor is None:
            del form.cleaned_data[name]
            form.add_error(
                name,
                ValidationError(
                    ngettext(
                        "%(currency)s amounts have at most %(digits)d decimal place.",
                        "%(currency)s amounts have at most %(digits)d decimal places.",
                        digits,
                    )
                    % {"currency": currency, "digits": digits}
                    if digits
                    else gettext("%(currency)s amounts have no decimal places.") % {"currency": currency},
                    code="TOO_MANY_DECIMALS",
                ),
            )
        else:
            form.cleaned_data[name] = minor


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
