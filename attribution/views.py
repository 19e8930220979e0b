"""Downloads of report exports through expiring signed links (no API key: the link is the grant)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.http import FileResponse, HttpRequest, JsonResponse
from django.views.decorators.http import require_GET

from . import exports
from .errors import AttributionErrorCode
from .models import ReportExport


def _refuse(status: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status)


@require_GET
def export_download(request: HttpRequest, token: str):
    try:
        export_id, fmt = exports.read_token(token)
    except exports.LinkExpired:
        return _refuse(
            410, AttributionErrorCode.LINK_EXPIRED, "This download link has expired: ask for a new one."
        )
    except exports.LinkInvalid:
        return _refuse(403, AttributionErrorCode.LINK_INVALID, "This download link is not valid.")
    export = ReportExport.objects.filter(pk=export_id, status=ReportExport.Status.SUCCEEDED).first()
    relative = (export.files or {}).get(fmt) if export else None
    path = Path(settings.MEDIA_ROOT) / relative if relative else None
    if path is None or not path.is_file():
        return _refuse(404, AttributionErrorCode.NOT_FOUND, "This export file does not exist.")
    response = FileResponse(path.open("rb"), as_attachment=True, filename=path.name)
    response["Content-Type"] = exports.CONTENT_TYPES[fmt]
    response["Cache-Control"] = "private, no-store"
    return response
