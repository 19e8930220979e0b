"""The web till: its app shell (page, manifest, service worker, scripts), pairing and the clock.

Nothing here moves money: the till's write-offs go to /graphql/, signed in the browser like
any terminal's. The page holds no rule; it shows what the API answers.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from django.core.cache import cache
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import get_language
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from backend.api.errors import ServiceError

from . import services
from .errors import TillErrorCode
from .strings import till_strings

ASSETS = Path(__file__).resolve().parent / "assets"
# The files of the app shell, the only things the service worker caches.
SHELL_ASSETS = {
    "app.js": "text/javascript",
    "till.css": "text/css",
    "icon.svg": "image/svg+xml",
    "vendor/jsQR.min.js": "text/javascript",
}
SHELL_VERSION = "1"
# Wrong pairing codes one address may send per window before it is refused for a while.
PAIR_FAILURES_MAX = 20
PAIR_FAILURES_WINDOW = 600


def _shell_urls() -> list[str]:
    return [reverse("till:index"), reverse("till:manifest")] + [
        reverse("till:asset", args=[name]) for name in SHELL_ASSETS
    ]


@require_GET
def index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "till/index.html",
        {
            "strings": till_strings(),
            "language": get_language(),
            "config": {
                "graphqlUrl": reverse("graphql"),
                "pairUrl": reverse("till:pair"),
                "clockUrl": reverse("till:clock"),
                "serviceWorkerUrl": reverse("till:service_worker"),
                "scope": reverse("till:index"),
                "language": get_language(),
                "skewWarningSeconds": 240,
                "skewLimitSeconds": 300,
            },
        },
    )


@require_GET
def manifest(request: HttpRequest) -> JsonResponse:
    data = {
        "name": "Coupon network till",
        "short_name": "Till",
        "start_url": reverse("till:index"),
        "scope": reverse("till:index"),
        "display": "standalone",
        "orientation": "portrait",
        "background_color": "#ffffff",
        "theme_color": "#0b6e4f",
        "icons": [
            {
                "src": reverse("till:asset", args=["icon.svg"]),
                "sizes": "any",
                "type": "image/svg+xml",
                "purpose": "any",
            }
        ],
    }
    return JsonResponse(data, content_type="application/manifest+json")


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    script = (ASSETS / "sw.js").read_text()
    script = script.replace("__SHELL_URLS__", json.dumps(_shell_urls())).replace("__VERSION__", SHELL_VERSION)
    response = HttpResponse(script, content_type="text/javascript")
    response["Service-Worker-Allowed"] = reverse("till:index")
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def asset(request: HttpRequest, name: str) -> FileResponse:
    if name not in SHELL_ASSETS:
        raise Http404
    response = FileResponse((ASSETS / name).open("rb"), content_type=SHELL_ASSETS[name])
    response["Cache-Control"] = "no-cache"  # the service worker keeps the offline copy
    return response


def _client_address(request: HttpRequest) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _pair_failures(address: str) -> int:
    try:
        return int(cache.get(f"till:pair-fail:{address}") or 0)
    except Exception:  # noqa: BLE001 - Redis down: pairing still works, without the limit
        return 0


def _count_pair_failure(address: str) -> None:
    key = f"till:pair-fail:{address}"
    try:
        if not cache.add(key, 1, PAIR_FAILURES_WINDOW):
            cache.incr(key)
    except Exception:  # noqa: BLE001, S110 - see _pair_failures
        pass


@csrf_exempt  # no cookie or session is involved: the code itself is the credential
@require_POST
@never_cache
def pair(request: HttpRequest) -> JsonResponse:
    """Exchange a pairing code for the terminal's id and secret: ``{"code": "XXXX-XXXX"}``."""
    address = _client_address(request)
    if _pair_failures(address) >= PAIR_FAILURES_MAX:
        return _pair_error(
            TillErrorCode.PAIRING_RATE_LIMITED, "Too many wrong pairing codes; wait a few minutes.", 429
        )
    try:
        body = json.loads(request.body or b"{}")
        code = body.get("code") if isinstance(body, dict) else None
    except ValueError:
        code = None
    if not isinstance(code, str):
        return _pair_error(TillErrorCode.PAIRING_CODE_INVALID, 'Send {"code": "XXXX-XXXX"}.', 400)
    try:
        paired = services.pairing_redeem(code=code)
    except ServiceError as exc:
        error = exc.errors[0]
        if error.code == TillErrorCode.PAIRING_CODE_INVALID:
            _count_pair_failure(address)
        return _pair_error(error.code, error.message, 400)
    terminal = paired.terminal
    return JsonResponse(
        {
            "terminalId": terminal.uid,
            "secret": paired.secret,
            "terminalName": terminal.name,
            "storeName": terminal.store.name,
            "merchantName": terminal.merchant.name,
            "currency": terminal.merchant.default_currency,
        }
    )


def _pair_error(code: str, message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": {"code": str(code), "message": message}}, status=status)


@require_GET
@never_cache
def clock(request: HttpRequest) -> JsonResponse:
    """The server's time in Unix milliseconds, for the till to measure its clock's skew."""
    return JsonResponse({"now": int(time.time() * 1000)})
