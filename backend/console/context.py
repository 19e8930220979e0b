"""Template context of the console's pages: the nav for the member's role, the merchant
switcher's memberships, the active one. Nothing is queried unless a template asks."""

from __future__ import annotations

from django.utils.functional import SimpleLazyObject

from . import members, nav


def console(request) -> dict:
    def _nav():
        membership = members.active_membership(request)
        return nav.entries_for(membership.role if membership else None)

    return {
        "console_memberships": SimpleLazyObject(lambda: members.memberships(request)),
        "console_membership": SimpleLazyObject(lambda: members.active_membership(request)),
        "console_nav": SimpleLazyObject(_nav),
        "console_view_name": getattr(getattr(request, "resolver_match", None), "view_name", None),
    }
