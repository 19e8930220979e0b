"""The console's pages: one module per page (or group of pages), found by :func:`discover`.

A module here exposes ``urlpatterns`` (paths under /console/, names in the ``console``
namespace) and optionally ``NAV`` (a list of :class:`backend.console.nav.NavItem`). Nothing
else needs editing to add a page: see docs/console.md.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from dataclasses import dataclass

from backend.console import paths  # noqa: F401  (registers the <gid:...> converter before any page)


@dataclass(frozen=True)
class Pages:
    urlpatterns: list
    nav: list


@functools.cache
def discover() -> Pages:
    urlpatterns: list = []
    nav: list = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        module = importlib.import_module(f"{__name__}.{info.name}")
        urlpatterns += getattr(module, "urlpatterns", [])
        nav += getattr(module, "NAV", [])
    nav.sort(key=lambda item: (item.order, item.url_name))
    return Pages(urlpatterns=urlpatterns, nav=nav)
