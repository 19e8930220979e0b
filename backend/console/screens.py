"""The screenshot registry: which console pages `manage.py console_screenshots` photographs.

Every nav entry of every page module is photographed without registering anything (as the
role it is for, at the demo issuer), so a page added by anyone is covered. A page module adds
what the nav does not reach with ``SCREENS = [Screen(...)]``: a detail page (opened by
following the first link a list shows), another merchant's view, a signed-out page.
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass

from django.urls import reverse

from backend.api.permissions import ANY_KEY

from . import pages

ISSUER = "sweet-spoon"
PUBLISHER = "mochi-cartoon"


@dataclass(frozen=True)
class Screen:
    name: str  # the file: docs/screenshots/console-<name>-<lang>.png
    path: str  # where to go, "/console/reports/?dimension=DAY"
    role: str | None = "brand"  # who is signed in (None: nobody)
    merchant: str = ISSUER  # the demo merchant they are a member of
    follow: str = ""  # then follow the first link matching this CSS selector (a detail page)
    full_page: bool = True


def role_for(roles: tuple[str, ...]) -> str:
    """The member a nav entry is meant for: brand for everyone's pages, else its first role."""
    if set(roles) >= set(ANY_KEY):
        return "brand"
    for role in roles:
        if role != "admin":
            return role
    return "admin"


def all_screens() -> list[Screen]:
    declared: list[Screen] = [
        Screen("sign-in", "/accounts/login/", role=None),
    ]
    for info in sorted(pkgutil.iter_modules(pages.__path__), key=lambda i: i.name):
        declared += getattr(importlib.import_module(f"{pages.__name__}.{info.name}"), "SCREENS", [])
    names = {s.name for s in declared}
    paths = {s.path for s in declared if not s.follow}
    automatic = []
    for item in pages.discover().nav:
        path = reverse(item.url_name)
        name = item.url_name.split(":", 1)[-1]
        if path in paths or name in names:
            continue
        automatic.append(Screen(name, path, role=role_for(item.roles)))
    return automatic + declared
