"""Evidence files over plain HTTP (GraphQL carries no files):

- ``POST /disputes/<dispute id>/attachments``: multipart field ``file`` (or a raw body with
  ``X-Filename``), by a party to the dispute (admin or finance key). PDF, PNG, JPEG or WebP,
  recognised by their first bytes; at most DISPUTES_ATTACHMENT_MAX_BYTES each.
- ``GET /disputes/attachments/<attachment id>``: the file, to the parties and the operator.

Answers JSON errors ``{"errors": [{code, field, message}]}`` with 400/401/403/404/405/413.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import FileResponse, HttpRequest, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from backend.api import ids
from backend.api.errors import ServiceError
from backend.api.permissions import ADMIN, FINANCE
from backend.gateway.authentication import AuthenticationFailed, authenticate_api_key

from . import selectors, services
from .errors import DisputeErrorCode

ROLES = (ADMIN, FINANCE)
STATUS_BY_CODE = {
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    DisputeErrorCode.FILE_TOO_LARGE.value: 413,
}


def _error(code: str, message: str, field: str | None = None) -> JsonResponse:
    body = {"errors": [{"code": code, "field": field, "message": message}]}
    return JsonResponse(body, status=STATUS_BY_CODE.get(code, 400))


def _caller(request: HttpRequest):
    scheme, _, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None, _error("UNAUTHENTICATED", "Use 'Authorization: Bearer <api key>'.")
    try:
        caller = authenticate_api_key(token.strip())
    except AuthenticationFailed as exc:
        return None, _error(exc.code, exc.message)
    if caller.role not in ROLES:
        return None, _error("FORBIDDEN", "This needs one of the roles: admin, finance.")
    return caller, None


@csrf_exempt
def attachment_upload(request: HttpRequest, dispute_id: str) -> JsonResponse:
    if request.method != "POST":
        return _error("METHOD_NOT_ALLOWED", "Use POST.")
    caller, refusal = _caller(request)
    if refusal is not None:
        return refusal
    pk = ids.decode("Dispute", dispute_id)
    if pk is None or selectors.dispute_for(merchant=caller.merchant, dispute_id=pk) is None:
        return _error("NOT_FOUND", "Dispute not found.", "disputeId")
    limit = settings.DISPUTES_ATTACHMENT_MAX_BYTES
    declared = request.META.get("CONTENT_LENGTH") or "0"
    # A multipart body carries a little framing around the file.
    if declared.isdigit() and int(declared) > limit + 64 * 1024:
        return _error(DisputeErrorCode.FILE_TOO_LARGE, f"At most {limit // 2**20} MiB per file.", "file")
    try:
        if request.content_type == "multipart/form-data":
            upload = request.FILES.get("file")
            if upload is None:
                return _error("REQUIRED", "Send the file in the multipart field 'file'.", "file")
            if upload.size > limit:
                return _error(
                    DisputeErrorCode.FILE_TOO_LARGE, f"At most {limit // 2**20} MiB per file.", "file"
                )
            filename, content = upload.name, upload.read()
        else:
            filename, content = request.META.get("HTTP_X_FILENAME", ""), request.read(limit + 1)
        attachment = services.dispute_attachment_add(
            merchant=caller.merchant,
            dispute_id=pk,
            filename=filename,
            content=content,
            actor=services.Actor(merchant=caller.merchant, api_key=caller.api_key),
        )
    except ServiceError as exc:
        first = exc.errors[0]
        return _error(first.code, first.message, first.field)
    except (MultiPartParserError, RequestDataTooBig, SuspiciousOperation, BadRequest):
        return _error("INVALID", "The upload could not be read.", "file")
    return JsonResponse(
        {
            "attachment": {
                "id": ids.encode("DisputeAttachment", attachment.pk),
                "filename": attachment.filename,
                "contentType": attachment.content_type,
                "size": attachment.size,
                "sha256": attachment.sha256,
            }
        },
        status=201,
    )


def attachment_download(request: HttpRequest, attachment_id: str):
    if request.method != "GET":
        return _error("METHOD_NOT_ALLOWED", "Use GET.")
    caller, refusal = _caller(request)
    if refusal is not None:
        return refusal
    pk = ids.decode("DisputeAttachment", attachment_id)
    attachment = selectors.attachment_for(merchant=caller.merchant, attachment_id=pk or 0)
    if attachment is None:
        return _error("NOT_FOUND", "Attachment not found.")
    response = FileResponse(
        attachment.file.open("rb"),
        content_type=attachment.content_type,
        as_attachment=True,
        filename=attachment.filename,
    )
    response["X-Content-Type-Options"] = "nosniff"
    return response
