"""URL pieces of the console. ``<gid:id>``: an API global id (Relay), carried as is.

Global ids are standard base64 ("Q2FtcGFpZ246MTI="), whose "/" and "+" do not fit in a path
segment: in URLs they travel URL-safe ("-", "_"), and pages get back the API's own id.
"""

from __future__ import annotations

from django.urls import register_converter


class GlobalIdConverter:
    regex = r"[A-Za-z0-9_=-]{4,200}"

    def to_python(self, value: str) -> str:
        return value.replace("-", "+").replace("_", "/")

    def to_url(self, value: str) -> str:
        return str(value).replace("+", "-").replace("/", "_")


register_converter(GlobalIdConverter, "gid")
