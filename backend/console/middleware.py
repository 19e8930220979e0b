"""The console's response policy: a Content-Security-Policy on its pages, and API errors as pages.

CSP: the console and the account pages load only their own scripts, styles and images (no
inline script or style; htmx is vendored). Other surfaces (fan pages, the till, GraphiQL)
keep their own policies, so the header goes only on the paths in CONSOLE_CSP_PATHS.

An :class:`~backend.console.operations.ApiError` escaping a view becomes the error page with
the status of its code (403 FORBIDDEN, 404 NOT_FOUND, ...) and the API's code shown;
UNAUTHENTICATED goes back to sign-in.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.shortcuts import render

from .operations import ApiError

DEFAULT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


class ConsoleMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self.csp = getattr(settings, "CONSOLE_CSP", DEFAULT_CSP)
        self.paths = tuple(getattr(settings, "CONSOLE_CSP_PATHS", ("/console/", "/accounts/")))

    def __call__(self, request):
        response = self.get_response(request)
        if request.path == "/" or request.path.startswith(self.paths):
            response.headers.setdefault("Content-Security-Policy", self.csp)
        return response

    def process_exception(self, request, exception):
        if not isinstance(exception, ApiError):
            return None
        if exception.code == "UNAUTHENTICATED":
            return redirect_to_login(request.get_full_path())
        return error_page(request, exception)


def error_page(request, error: ApiError):
    template = "console/_error.html" if request.headers.get("HX-Request") else "console/error.html"
    return render(request, template, {"error": error}, status=error.status)
