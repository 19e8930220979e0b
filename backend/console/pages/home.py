"""Home: the member's merchant at a glance."""

from __future__ import annotations

from django.shortcuts import render
from django.urls import path
from django.utils.translation import gettext_lazy as _

from backend.console.access import console_page
from backend.console.nav import NavItem
from backend.console.operations import run_operation


@console_page
def home(request):
    me = run_operation(request, "merchants_me").data["me"]
    return render(request, "console/home.html", {"me": me})


urlpatterns = [path("", home, name="home")]
NAV = [NavItem(label=_("Home"), url_name="console:home", order=0)]
