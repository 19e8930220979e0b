"""Template helpers of the console: amounts (one filter, shared with the fan pages), form
fields with the API's error codes, the active nav entry, and API ids in URLs."""

from __future__ import annotations

import itertools

from django import template
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.base import FilterExpression, Node, TextNode, Variable
from django.template.defaulttags import CommentNode, URLNode
from django.template.loader import render_to_string
from django.templatetags.i18n import TranslateNode
from django.templatetags.static import StaticNode
from django.urls import get_script_prefix, get_urlconf
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from backend.console import members, nav
from backend.fans.templatetags.fan_pages import money as _money

register = template.Library()


@register.filter
def money(amount, currency: str) -> str:
    """'500', 'CNY' -> '¥5.00': integer minor units in (the API's Money), never a float."""
    return _money(amount, currency)


@register.filter
def basis_points(value) -> str:
    """1500 -> '15%' (shares and percentages are basis points in the API)."""
    if value is None:
        return ""
    whole, rest = divmod(int(value), 100)
    return f"{whole}%" if rest == 0 else f"{whole}.{rest:02d}".rstrip("0") + "%"


@register.filter
def nav_is_active(item, view_name) -> bool:
    return item.is_active(view_name)


# Parts of pages that depend only on a few small values (the role, the page, a status filter)
# besides the language and the URL prefix and conf, as rendered: the same few strings for every
# request, so each is rendered once per process (the side navigation's dozen ``{% url %}`` and
# label lookups were a fifth of the campaign list's template).
_rendered: dict[tuple, str] = {}
RENDERED_CACHE_MAX = 1_000


def once(key: tuple, build):
    """``build()``, kept per ``key`` + the language, URL prefix and conf, per process. ``key``
    holds a few small values; ``build`` may depend on nothing else (nothing of a request)."""
    full_key = (key, get_language(), get_script_prefix(), get_urlconf())
    value = _rendered.get(full_key)
    if value is None:
        value = build()
        if len(_rendered) < RENDERED_CACHE_MAX:
            _rendered[full_key] = value
    return value


def render_once(template_name: str, context: dict, key: tuple) -> SafeString:
    """``template_name`` rendered with ``context`` (a function of ``key``, see :func:`once`;
    rendered without the request), kept per ``key``."""
    html = once((template_name, *key), lambda: render_to_string(template_name, context))
    return mark_safe(html)  # noqa: S308 - rendered by the template engine, autoescaped


@register.simple_tag(takes_context=True)
def console_sidenav(context) -> str:
    """The console's side navigation for the active member's role, the current page marked."""
    membership = members.active_membership(context["request"])
    role = membership.role if membership is not None else None
    view_name = context.get("console_view_name")
    return render_once(
        "console/_sidenav.html", {"nav": nav.entries_for(role), "view_name": view_name}, (role, view_name)
    )


@receiver(setting_changed)
def _forget_rendered(**_kwargs) -> None:
    _rendered.clear()  # ROOT_URLCONF, LANGUAGES, templates, STATIC_URL: tests override them


def _constant(expression: FilterExpression | None) -> bool:
    """A literal ("Sign out", 'console:home', 3) without filters: the same in every context."""
    if expression is None:
        return True
    var = expression.var
    return not expression.filters and (not isinstance(var, Variable) or var.literal is not None)


def _fixed_node(node: Node) -> bool:
    """Nodes whose output depends on nothing but the language, the URL prefix and
    configuration, the current app and autoescaping (never on the context's values)."""
    if isinstance(node, TextNode | CommentNode):
        return True
    if isinstance(node, TranslateNode):
        return node.asvar is None and _constant(node.filter_expression) and _constant(node.message_context)
    if isinstance(node, URLNode):
        return (
            node.asvar is None
            and _constant(node.view_name)
            and all(_constant(arg) for arg in node.args)
            and all(_constant(arg) for arg in node.kwargs.values())
        )
    if isinstance(node, StaticNode):
        return node.varname is None and _constant(node.path)
    return False


_fixed_ids = itertools.count()


class FixedNode(Node):
    """``{% fixed %}...{% endfixed %}``: rendered once per language, URL prefix and conf,
    current app and autoescaping, per process (:func:`once`); then the same string every request.

    Only text, ``{% translate "literal" %}``, ``{% url 'name' literal-args %}`` and
    ``{% static 'path' %}`` may be inside (checked when the template is compiled), so nothing of
    a request or a person (a CSRF token, a name, a path) can be kept. The layout's labels and
    links were most of its template time on every page (bench scenario 10).
    """

    child_nodelists = ()  # no {% block %} inside: {% extends %} need not look into it

    def __init__(self, nodelist):
        self.nodelist = nodelist
        self.key = ("fixed", next(_fixed_ids))  # this node's own, never reused by another

    def render(self, context):
        request = context.get("request")
        try:
            current_app = request.current_app
        except AttributeError:
            current_app = getattr(getattr(request, "resolver_match", None), "namespace", None)
        return once((*self.key, current_app, context.autoescape), lambda: self.nodelist.render(context))


@register.tag
def fixed(parser, token):
    if len(token.split_contents()) != 1:
        raise template.TemplateSyntaxError("'fixed' takes no arguments")
    nodelist = parser.parse(("endfixed",))
    parser.delete_first_token()
    for node in nodelist:
        if not _fixed_node(node):
            raise template.TemplateSyntaxError(
                f"{{% fixed %}} may hold only text, {{% translate \"...\" %}}, {{% url '...' %}} and "
                f"{{% static '...' %}} with literal arguments, not {node!r}"
            )
    return FixedNode(nodelist)


@register.inclusion_tag("console/_field.html")
def field(bound_field, **attrs):
    """A labelled form field with its errors, each with the API's code as data-code."""
    return {"field": bound_field, "errors": bound_field.errors.as_data(), "attrs": attrs}


@register.inclusion_tag("console/_form_errors.html")
def form_errors(form):
    return {"errors": form.non_field_errors().as_data()}


# With a context: "Accepted" alone is the till's "write-off accepted" (核销成功).
STATUS_LABELS = {
    "DRAFT": pgettext_lazy("status", "Draft"),
    "ACTIVE": pgettext_lazy("status", "Active"),
    "PAUSED": pgettext_lazy("status", "Paused"),
    "ENDED": pgettext_lazy("status", "Ended"),
    "PROPOSED": pgettext_lazy("status", "Proposed"),
    "ACCEPTED": pgettext_lazy("status", "Accepted"),
    "DECLINED": pgettext_lazy("status", "Declined"),
}


@register.filter
def status_label(value: str) -> str:
    return STATUS_LABELS.get(str(value).upper(), value)


ROLE_LABELS = {"admin": _("Admin"), "brand": _("Brand"), "finance": _("Finance")}


@register.filter
def role_label(role: str) -> str:
    return ROLE_LABELS.get(role, role)
