"""POST /imports/fans/<pool id>: upload a CSV file of fans (raw body or multipart ``file``).

Authenticated by ``Authorization: Bearer <api key>`` (brand or admin). Answers JSON only:
202 with the import's id, or ``{"errors": [{code, field, message}]}`` with 400/401/403/404/
405/413 - never a 500 for bad input. The import itself runs in a Celery job; poll it with
the ``fanImport(id)`` query.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from backend.api import ids
from backend.api.errors import ServiceError
from backend.api.permissions import ADMIN, BRAND
from backend.gateway.authentication import AuthenticationFailed, authenticate_api_key

from . import imports, selectors
from .errors import AudienceErrorCode

logger = logging.getLogger(__name__)

READ_BLOCK = 64 * 1024
WRITE_ROLES = (ADMIN, BRAND)
STATUS_BY_CODE = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    AudienceErrorCode.FILE_TOO_LARGE.value: 413,
}


def _error(code: str, message: str, field: str | None = None) -> JsonResponse:
    body = {"errors": [{"code": code, "field": field, "message": message}]}
    return JsonResponse(body, status=STATUS_BY_CODE.get(code, 400))


def _raw_body(request: HttpRequest) -> Iterator[bytes]:
    while block := request.read(READ_BLOCK):
        yield block


@csrf_exempt
def fan_import_upload(request: HttpRequest, pool_id: str) -> JsonResponse:
    if request.method != "POST":
        return _error("METHOD_NOT_ALLOWED", "Use POST.")
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return _error("UNAUTHENTICATED", "Use 'Authorization: Bearer <api key>'.")
    try:
        caller = authenticate_api_key(token.strip())
    except AuthenticationFailed as exc:
        return _error(exc.code, exc.message)
    if caller.role not in WRITE_ROLES:
        return _error("FORBIDDEN", "This needs one of the roles: admin, brand.")
    pool = selectors.pool_for_owner(merchant=caller.merchant, pool_id=ids.decode("FanPool", pool_id))
    if pool is None:
        return _error("NOT_FOUND", "Fan pool not found.", "poolId")
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > imports.MAX_FILE_BYTES:
        return _error(
            AudienceErrorCode.FILE_TOO_LARGE, f"At most {imports.MAX_FILE_BYTES // 2**20} MiB.", "file"
        )
    try:
        if request.content_type == "multipart/form-data":
            upload = request.FILES.get("file")
            if upload is None:
                return _error("REQUIRED", "Send the CSV file in the multipart field 'file'.", "file")
            chunks = upload.chunks(READ_BLOCK)
        else:
            chunks = _raw_body(request)
        fan_import = imports.fan_import_create(merchant=caller.merchant, pool=pool, chunks=chunks)
    except ServiceError as exc:
        first = exc.errors[0]
        return _error(first.code, first.message, first.field)
    except (MultiPartParserError, RequestDataTooBig, SuspiciousOperation, BadRequest):
        return _error("INVALID", "The upload could not be read.", "file")
    return JsonResponse(
        {
            "fanImport": {
                "id": ids.encode("FanImport", fan_import.pk),
                "status": fan_import.Status(fan_import.status).name,
            }
        },
        status=202,
    )
