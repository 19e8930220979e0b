"""/console/...: the pages found in backend/console/pages/ plus the console's own views."""

from django.urls import path

from . import (
    paths,  # noqa: F401  (registers <gid:...>)
    views,
)
from .pages import discover

app_name = "console"

urlpatterns = [
    path("switch/", views.switch, name="switch"),
    path("mfa-required/", views.mfa_required, name="mfa-required"),
    *discover().urlpatterns,
]
