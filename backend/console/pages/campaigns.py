"""Campaigns: the issuer's list with live counters (htmx polls the same view), create, and the
lifecycle moves (activate, pause, resume, end), each one API mutation."""

from __future__ import annotations

import html
import re

from django import forms
from django.contrib import messages
from django.middleware.csrf import get_token
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from backend.console.access import console_page
from backend.console.forms import MoneyField, PercentField, add_api_errors, api_input, money_to_minor
from backend.console.nav import NavItem
from backend.console.operations import payload_errors, run_operation
from backend.console.paths import GlobalIdConverter
from backend.console.responses import redirect_back
from backend.console.templatetags.console import money, once, render_once, status_label

STATUSES = ("DRAFT", "ACTIVE", "PAUSED", "ENDED")
PAGE_SIZE = 50
POLL_SECONDS = 5
WRITERS = ("admin", "brand")  # the API's campaign writers; others are not offered the controls

BENEFIT_KINDS = [
    ("AMOUNT_OFF", _("Amount off")),
    ("PERCENT_OFF", _("Percent off, with a cap")),
    ("FREE_ITEM", _("A free item")),
]


def can_write(request) -> bool:
    return request.caller.role in WRITERS


# The moves a campaign of each status offers: (move, label, secondary).
ROW_MOVES = {
    "DRAFT": (("activate", _("Activate"), False), ("end", _("End"), True)),
    "ACTIVE": (("pause", _("Pause"), False), ("end", _("End"), True)),
    "PAUSED": (("resume", _("Resume"), False), ("end", _("End"), True)),
    "ENDED": (),
}
_ID_SLOT = "ID-SLOT-0"  # fits <gid:...>; reversed once per page, then each row's id replaces it
# Where each row's own values go in its prepared action cell: NUL never occurs in escaped text.
_ROW_ID, _ROW_NAME = "\x00id\x00", "\x00name\x00"

_ROW = (
    '<tr data-id="{id}">\n'
    '  <th scope="row">{name}</th>\n'
    '  <td><span class="status status-{status_class}">{status}</span></td>\n'
    "  <td>{fee}</td>\n"
    '  <td class="num" data-counter="redeemed">{redeemed}</td>\n'
    '  <td class="num" data-counter="spent">{spent}</td>\n'
    '  <td class="num">{budget}</td>\n'
    "  {actions}\n"
    "</tr>"
)
_ACTIONS = '<td class="actions">\n    {}\n  </td>'
_FORM = (
    '<form method="post" action="{url}">{hidden}<button type="submit" class="small{secondary}"'
    ' aria-label="{label}: {name}">{label}</button></form>'
)


_NEEDS_ESCAPING = re.compile("[&<>\"']")


def _text(value) -> str:
    """A value as the template's autoescaping prints it (Django's ``escape`` is this
    ``html.escape``, behind a lazy-string check that cost more than the escaping). Most values
    (ids, names) have nothing to escape: one search instead of five replacements."""
    text = str(value)
    return html.escape(text) if _NEEDS_ESCAPING.search(text) else text


_HIDDEN = "\x00hidden\x00"  # where the page's CSRF token and ``next`` go in a prepared cell


def _row_cells() -> dict[str, str]:
    """Each status's action cell with slots for the page's hidden inputs and the row's id and
    name: one ``reverse()`` per move, labels translated once, per language and URL prefix."""
    urls = {
        move: _text(reverse(f"console:campaign-{move}", args=[_ID_SLOT])).replace(_ID_SLOT, _ROW_ID)
        for move in MOVES
    }
    return {
        status: _ACTIONS.format(
            "\n    ".join(
                _FORM.format(
                    url=urls[move],
                    hidden=_HIDDEN,
                    secondary=" secondary" if secondary else "",
                    label=_text(label),
                    name=_ROW_NAME,
                )
                for move, label, secondary in moves
            )
        )
        for status, moves in ROW_MOVES.items()
    }


class RowForms:
    """The rows' action cells, prepared once per page for each status from the cells kept per
    language (:func:`_row_cells`): one CSRF token and one ``next`` input per page; a row only
    puts its id and name in. Per-row ``{% include %}`` + ``{% url %}`` + ``{% csrf_token %}``
    were most of the page's cost (bench scenario 10)."""

    def __init__(self, request, csrf_token: str):
        hidden = (
            f'<input type="hidden" name="csrfmiddlewaretoken" value="{_text(csrf_token)}">'
            f'<input type="hidden" name="next" value="{_text(request.get_full_path())}">'
        )
        self.cells = {
            status: cell.replace(_HIDDEN, hidden)
            for status, cell in once(("campaign-row-cells",), _row_cells).items()
        }

    def actions(self, status: str) -> str:
        """The action cell of a row of ``status`` as a format string: ``{url_id}`` and ``{name}``
        are the row's id (as in URLs) and name, escaped."""
        cell = self.cells.get(status) or _ACTIONS.format("")
        return _braces(cell).replace(_ROW_ID, "{url_id}").replace(_ROW_NAME, "{name}")


def _braces(text: str) -> str:
    """``text`` as a literal in a format string."""
    return text.replace("{", "{{").replace("}", "}}")


# The row's own values, put in per row; the status's label, class and actions are put in once.
_ROW_SLOTS = {slot: "{" + slot + "}" for slot in ("id", "name", "fee", "redeemed", "spent", "budget")}


def rows_html(rows: list[dict], forms: RowForms | None) -> SafeString:
    """The table's rows (``campaigns_list`` nodes) as one escaped string.

    The list shows 50 rows and is polled every 5 s: through the template engine each row's
    dozen variables and filters cost half as much as the API operation that read them (bench
    scenario 10), so a row is one format string here (one per status, its label and action cell
    already in), every value escaped as the template's autoescaping would. ``forms`` is None
    for a member whose role cannot move campaigns: no actions column then.
    """
    formats: dict[str, str] = {}
    amounts: dict[tuple, str] = {}  # fees and budgets repeat down the page

    def row_format(status) -> str:
        return _ROW.format(
            **_ROW_SLOTS,
            status_class=_braces(_text(str(status).lower())),
            status=_braces(_text(status_label(status))),
            actions="" if forms is None else forms.actions(status),
        )

    def amount(value, currency) -> str:
        text = amounts.get((value, currency))
        if text is None:
            text = amounts[value, currency] = _text(money(value, currency))
        return text

    to_url = GlobalIdConverter().to_url
    out = []
    for row in rows:
        status, currency = row["status"], row["currency"]
        template = formats.get(status)
        if template is None:
            template = formats[status] = row_format(status)
        out.append(
            template.format(
                id=_text(row["id"]),
                url_id="" if forms is None else _text(to_url(row["id"])),
                name=_text(row["name"]),
                fee=amount(row["feePerRedemption"], currency),
                redeemed=(
                    f"{row['redeemedCount']} / {row['maxRedemptions']}"
                    if row["maxRedemptions"]
                    else row["redeemedCount"]
                ),
                spent=amount(row["spentAmount"], currency),
                budget=amount(row["budgetCap"], currency) if row["budgetCap"] else "—",
            )
        )
    return mark_safe("".join(out))  # noqa: S308 - every value above is escaped


@console_page
def campaign_list(request):
    status = request.GET.get("status", "").upper()
    variables = {"first": PAGE_SIZE, "after": request.GET.get("after") or None}
    if status in STATUSES:
        variables["status"] = status
    campaigns = run_operation(request, "campaigns_list", variables).data["campaigns"]
    rows = [edge["node"] for edge in campaigns["edges"]]
    writer = can_write(request)
    context = {
        "campaigns": campaigns,
        "status": status if status in STATUSES else "",
        "poll_seconds": POLL_SECONDS,
        "can_write": writer,
    }
    if writer:
        # One masked token for the rows' forms and the layout's (instead of two).
        context["csrf_token"] = csrf_token = get_token(request)
        context["rows_html"] = rows_html(rows, RowForms(request, csrf_token))
    else:
        context["rows_html"] = rows_html(rows, None)
    if request.headers.get("HX-Request"):
        return render(request, "console/campaigns/_rows.html", context)
    context["status_filters"] = status_filters(context["status"])
    return render(request, "console/campaigns/list.html", context)


def status_filters(status: str) -> SafeString:
    """The status filter links, the current one marked: five variants per language."""
    status = status if status in STATUSES else ""
    return render_once("console/campaigns/_filters.html", {"status": status, "statuses": STATUSES}, (status,))


class CampaignForm(forms.Form):
    """The campaign's terms as people type them; names are the API's input fields (snake_case),
    so its errors land on the right field. Amounts in major units, shares in percent."""

    name = forms.CharField(label=_("Name"), max_length=200, required=False)
    description = forms.CharField(
        label=_("Description"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    benefit_kind = forms.ChoiceField(label=_("Benefit"), choices=BENEFIT_KINDS)
    amount_off = MoneyField(label=_("Amount off"))
    percent_off_bps = PercentField(label=_("Percent off (%)"))
    percent_cap = MoneyField(label=_("Most taken off"))
    free_item_name = forms.CharField(label=_("Free item"), max_length=200, required=False)
    free_item_value = MoneyField(label=_("Free item's price"))
    min_spend = MoneyField(label=_("Minimum spend"))
    currency = forms.CharField(label=_("Currency"), max_length=3, required=False)
    valid_days_after_issue = forms.IntegerField(label=_("Valid for (days after issue)"), required=False)
    max_redemptions = forms.IntegerField(label=_("Most write-offs"), required=False)
    budget_cap = MoneyField(label=_("Budget (fees)"))
    fee_per_redemption = MoneyField(label=_("Fee per write-off"))
    publisher_share_bps = PercentField(label=_("Publisher's share of the fee (%)"))

    def __init__(self, *args, default_currency: str = "CNY", **kwargs):
        self.default_currency = default_currency
        super().__init__(*args, **kwargs)

    def clean(self):
        cleaned = super().clean()
        currency = (cleaned.get("currency") or self.default_currency).upper()
        money_to_minor(self, currency)
        return self.cleaned_data


@console_page(roles=WRITERS)
def campaign_create(request):
    form = CampaignForm(
        request.POST or None,
        initial={"benefit_kind": "AMOUNT_OFF"},
        default_currency=request.caller.merchant.default_currency,
    )
    if request.method == "POST" and form.is_valid():
        campaign_input = {"name": form.cleaned_data["name"], **api_input(form)}
        payload = run_operation(request, "campaigns_create", {"input": campaign_input}).data["campaignCreate"]
        if not payload["errors"]:
            messages.success(request, _("Campaign “%(name)s” created as a draft.") % payload["campaign"])
            return redirect("console:campaigns")
        add_api_errors(form, payload["errors"])
    status = 400 if form.errors else 200
    return render(request, "console/campaigns/create.html", {"form": form}, status=status)


# The lifecycle moves: (operation, payload field, message on success).
MOVES = {
    "activate": ("campaigns_activate", "campaignActivate", _("The campaign is active.")),
    "pause": ("campaigns_pause", "campaignPause", _("The campaign is paused.")),
    "resume": ("campaigns_resume", "campaignResume", _("The campaign is active again.")),
    "end": ("campaigns_end", "campaignEnd", _("The campaign has ended.")),
}


@require_POST
@console_page
def campaign_move(request, campaign_id: str, move: str):
    operation, field, done = MOVES[move]
    payload = run_operation(request, operation, {"id": campaign_id}).data[field]
    errors = payload_errors(payload)
    for error in errors:
        messages.error(request, f"{error['message']} ({error['code']})")
    if not errors:
        messages.success(request, done)
    return redirect_back(request, "console:campaigns")


urlpatterns = [
    path("campaigns/", campaign_list, name="campaigns"),
    path("campaigns/new/", campaign_create, name="campaign-create"),
    *[
        path(f"campaigns/<gid:campaign_id>/{move}/", campaign_move, {"move": move}, name=f"campaign-{move}")
        for move in MOVES
    ],
]
NAV = [
    NavItem(
        label=_("Campaigns"), url_name="console:campaigns", order=10, active_for=("console:campaign-create",)
    )
]
