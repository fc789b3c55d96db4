"""Uploads over HTTP: `POST /api/v2/uploads`, `DELETE /api/v2/uploads/{token}`,
`GET /api/v2/attachments/{id}` and the files themselves at their `content_url`.

The rules (limits, tokens, what a comment does with them) are in sandbox.uploads. The body
of `POST /uploads` is the file itself, typed by its Content-Type
(https://developer.zendesk.com/api-reference/ticketing/tickets/ticket-attachments/#upload-files);
a multipart form with the file in `uploaded_data`, which Zendesk's own client library sends,
is read too.

A missing file name is 422 RecordInvalid with `filename: cannot be blank`, the body Zendesk
answers (as reported to Zendesk's Ruby client, https://github.com/zendesk/zendesk_api_client_rb/issues/41);
other unusable names and an empty file get the same shape. A `token` that is not the caller's
live upload is 404, as any record the caller cannot find.

Files are served as downloads that cannot run: `Content-Disposition: attachment`, the stored
(validated) type with `X-Content-Type-Options: nosniff`, and a CSP `sandbox` with nothing
allowed, so even an HTML or SVG file opened directly runs no script.

Control (tests): `POST /_sandbox/uploads {"max_bytes": N, "token_ttl": seconds}` overrides the
settings' limits ({} restores them); `GET` shows them. `POST /_sandbox/uploads/expire` ends
every live upload token at once, so expiry can be seen without waiting for it.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.http import content_disposition_header
from django.views.decorators.csrf import csrf_exempt

from sandbox import errors, jsonbody, serializers, uploads
from sandbox.auth import Caller, api_view
from sandbox.routing import route
from sandbox.views.reads import parse_id
from sandbox.visibility import visible_tickets

MAX_CONTROL_BYTES = 1024 * 1024 * 1024  # the largest limit the control accepts: 1 GB
MAX_CONTROL_TTL = 365 * 86400
DOWNLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "sandbox; default-src 'none'; frame-ancestors 'none'",
    "Cache-Control": "private, max-age=0",
}


# -- reading an upload ------------------------------------------------------------------------


def _too_large() -> errors.ApiError:
    limit = uploads.human_size(uploads.max_bytes())
    return errors.ApiError(
        413,
        {
            "error": "RequestTooLarge",
            "description": f"The file is larger than the {limit} limit for attachments.",
        },
    )


def _file_name(request: HttpRequest) -> str:
    name = request.GET.get("filename", "").strip()
    if not name:
        raise errors.record_invalid({"filename": ["cannot be blank"]})
    if len(name) > uploads.MAX_FILE_NAME_LENGTH:
        raise errors.record_invalid(
            {"filename": [f"is too long (maximum is {uploads.MAX_FILE_NAME_LENGTH} characters)"]}
        )
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise errors.record_invalid({"filename": ["cannot contain control characters"]})
    return name


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return 0


def _read_limited(stream, limit: int) -> bytes:
    """At most limit + 1 bytes: enough to know the file is too large without holding it."""
    content = stream.read(limit + 1)
    if len(content) > limit:
        raise _too_large()
    return content


def _file(request: HttpRequest) -> tuple[bytes, str]:
    """The file's bytes and declared type, from the raw body or a multipart `uploaded_data`."""
    limit = uploads.max_bytes()
    content_type = request.headers.get("Content-Type", "")
    if content_type.lower().startswith("multipart/form-data"):
        if _declared_length(request) > limit + 64 * 1024:  # the form's own parts are small
            raise _too_large()
        part = request.FILES.get("uploaded_data")
        if part is None:
            raise errors.record_invalid({"uploaded_data": ["cannot be blank"]})
        return _read_limited(part, limit), part.content_type or ""
    if _declared_length(request) > limit:
        raise _too_large()
    return _read_limited(request, limit), content_type


@api_view()
def upload_create(request: HttpRequest, caller: Caller) -> JsonResponse:
    """POST /api/v2/uploads?filename=NAME[&token=T]: 201 {upload: {token, expires_at, ...}}."""
    file_name = _file_name(request)
    token = request.GET.get("token", "").strip() or None
    content, declared_type = _file(request)
    if not content:
        raise errors.record_invalid({"uploaded_data": ["cannot be empty"]})
    try:
        upload, attachment = uploads.store_file(
            user=caller.user,
            file_name=file_name,
            declared_type=declared_type,
            content=content,
            token=token,
        )
    except uploads.UploadNotFound as missing:
        raise errors.not_found() from missing
    body = uploads.upload_json(upload, attachment, base_url=serializers.base_url(request))
    return JsonResponse(body, status=201)


@api_view()
def upload_delete(request: HttpRequest, caller: Caller, token: str) -> HttpResponse:
    """DELETE /api/v2/uploads/{token}: 204; the files no comment took are gone."""
    if not uploads.discard_upload(user=caller.user, token=token):
        raise errors.not_found()
    return HttpResponse(status=204)


# -- reading attachments ----------------------------------------------------------------------


@api_view()
def attachment_show(request: HttpRequest, caller: Caller, attachment_id: str) -> JsonResponse:
    """GET /api/v2/attachments/{id}: on a ticket the caller may see, or in their own upload."""
    attachment = (
        uploads.Attachment.objects.defer("content")
        .select_related("comment", "upload")
        .filter(id=parse_id(attachment_id))
        .first()
    )
    if attachment is None:
        raise errors.not_found()
    comment = attachment.comment
    if comment is None:
        if attachment.uploader_id != caller.user.id:
            raise errors.not_found()
    else:
        may_see = visible_tickets(caller.user).filter(id=comment.ticket_id).exists()
        if not may_see or (not caller.user.is_agent and not comment.public):
            raise errors.forbidden()
    body = {
        "attachment": uploads.attachment_json(attachment, base_url=serializers.base_url(request))
    }
    return JsonResponse(body)


def attachment_download(request: HttpRequest, token: str) -> HttpResponse:
    """The file at its content_url, as a download no browser will run or sniff."""
    if request.method not in ("GET", "HEAD"):
        return errors.invalid_endpoint().response()
    attachment = uploads.attachment_for_download(token)
    if attachment is None:
        return errors.not_found().response()
    response = HttpResponse(bytes(attachment.content), content_type=attachment.content_type)
    response["Content-Disposition"] = content_disposition_header(True, attachment.file_name)
    for name, value in DOWNLOAD_HEADERS.items():
        response[name] = value
    return response


# -- control ----------------------------------------------------------------------------------


def _limit(body: dict, key: str, high: int) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ValueError(f"{key} must be a whole number from 1 to {high}")
    return value


@csrf_exempt
def control_uploads(request: HttpRequest) -> JsonResponse:
    """GET shows, POST replaces the upload limits: {"max_bytes", "token_ttl"} ({} restores)."""
    if request.method == "POST":
        try:
            body = jsonbody.loads(request.body or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JsonResponse(
                {"error": "InvalidControl", "description": "body must be a JSON object"},
                status=400,
            )
        unknown = set(body) - {"max_bytes", "token_ttl"}
        try:
            if unknown:
                raise ValueError(f"unknown keys {sorted(unknown)}")
            max_bytes = _limit(body, "max_bytes", MAX_CONTROL_BYTES)
            token_ttl = _limit(body, "token_ttl", MAX_CONTROL_TTL)
        except ValueError as problem:
            return JsonResponse(
                {"error": "InvalidControl", "description": str(problem)}, status=400
            )
        uploads.set_limits(max_bytes=max_bytes, token_ttl=token_ttl)
    return JsonResponse(uploads.limits_json())


@csrf_exempt
def control_expire_uploads(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"expired": uploads.expire_all()})


route("uploads", "POST", upload_create)
route(r"uploads/(?P<token>[^/.]+)", "DELETE", upload_delete)
route(r"attachments/(?P<attachment_id>[^/.]+)", "GET", attachment_show)
route(r"attachments/token/(?P<token>[A-Za-z0-9]+)/?", "GET", attachment_download, raw=True)
route("_sandbox/uploads", "GET", control_uploads, raw=True)
route("_sandbox/uploads", "POST", control_uploads, raw=True)
route("_sandbox/uploads/expire", "POST", control_expire_uploads, raw=True)
