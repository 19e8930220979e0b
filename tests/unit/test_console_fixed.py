"""``{% fixed %}``: the layout's labels and links rendered once per language and URL prefix, and
only what cannot differ between two requests or two people may be inside."""

from __future__ import annotations

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.urls import reverse, set_script_prefix
from django.utils import translation

LOAD = "{% load i18n static console %}"


def render(source: str, **context) -> str:
    return Template(LOAD + source).render(Context(context))


def test_the_same_output_as_without_it_in_each_language():
    body = '<a href="{% url "console:campaigns" %}">{% translate "Campaigns" %}</a>{% static "console/console.css" %}'
    template = Template(LOAD + "{% fixed %}" + body + "{% endfixed %}")
    plain = Template(LOAD + body)
    for language in ("en", "zh-hans", "en"):
        with translation.override(language):
            assert template.render(Context()) == plain.render(Context())
    with translation.override("zh-hans"):
        assert "营销活动" in template.render(Context())


def test_kept_per_url_prefix():
    template = Template(LOAD + '{% fixed %}{% url "console:campaigns" %}{% endfixed %}')
    try:
        set_script_prefix("/a/")
        assert template.render(Context()) == "/a/console/campaigns/"
        set_script_prefix("/b/")
        assert template.render(Context()) == "/b/console/campaigns/"
    finally:
        set_script_prefix("/")
    assert template.render(Context()) == reverse("console:campaigns")


@pytest.mark.parametrize(
    "inside",
    [
        "{{ user.email }}",
        "{% csrf_token %}",
        "{% translate name %}",
        '{% translate "Sign out" as label %}',
        '{% translate "Sign out"|upper %}',
        "{% url view_name %}",
        '{% url "console:campaign-end" campaign_id %}',
        '{% url "console:campaigns" as here %}',
        "{% static path %}",
        "{% if user %}x{% endif %}",
        '{% include "console/_sidenav.html" %}',
    ],
)
def test_nothing_of_a_request_or_a_person_may_be_inside(inside):
    with pytest.raises(TemplateSyntaxError):
        Template(LOAD + "{% fixed %}" + inside + "{% endfixed %}")
