"""The screenshot registry covers every page of the console's nav, once each."""

from __future__ import annotations

from django.urls import reverse

from backend.console.pages import discover
from backend.console.screens import all_screens, role_for


def test_every_nav_entry_has_a_screen_and_names_are_unique():
    screens = all_screens()
    names = [s.name for s in screens]
    assert len(names) == len(set(names))
    paths = {s.path.split("?")[0] for s in screens}
    for item in discover().nav:
        assert reverse(item.url_name) in paths, item.url_name
    assert {"issuance-job", "fan-import", "sign-in"} <= set(names)


def test_a_page_is_photographed_as_the_role_it_is_for():
    assert role_for(("admin", "brand", "finance")) == "brand"
    assert role_for(("finance",)) == "finance"
    assert role_for(("admin",)) == "admin"
