"""The console's navigation: each page module registers its entries (see docs/console.md).

A page module in ``backend/console/pages/`` exposes ``NAV = [NavItem(...)]``; the entries of
every module are collected once (``backend.console.pages.discover``) and sorted by ``order``.
An entry shows only to the roles it names (the API decides what they may do; the nav only
avoids offering what would be refused).
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.api.permissions import ANY_KEY


@dataclass(frozen=True)
class NavItem:
    label: str  # a lazy translation: gettext_lazy("Campaigns")
    url_name: str  # "console:campaigns"
    order: int = 100  # home 0, campaigns 10, directory 20, placements 30; others pick gaps
    roles: tuple[str, ...] = ANY_KEY
    # The url names that light this entry up as the current page (besides url_name).
    active_for: tuple[str, ...] = ()

    def is_active(self, view_name: str | None) -> bool:
        return view_name is not None and (view_name == self.url_name or view_name in self.active_for)


def entries_for(role: str | None) -> list[NavItem]:
    from .pages import discover

    return [item for item in discover().nav if role in item.roles]
