"""Uploads and attachments as Zendesk keeps them: the rules the views and the writes share.

How Zendesk's attachments work (https://developer.zendesk.com/api-reference/ticketing/tickets/ticket-attachments/
and https://developer.zendesk.com/documentation/ticketing/using-the-zendesk-api/adding-ticket-attachments-with-the-api):

- `POST /api/v2/uploads?filename=NAME` stores one file and answers a token; passing `token`
  adds the file to that upload. The reference gives the token 3 days (an older text of it
  said 60 minutes); the answer's `expires_at` is what a client should trust.
  `SANDBOX_UPLOAD_TOKEN_TTL` here, 3 days by default.
- A ticket create or update whose comment carries `uploads: [token, ...]` attaches the files
  to that comment; the token is then spent. The reference documents no error for a token that
  is unknown, expired, spent or someone else's: the sandbox ignores such tokens (the comment
  is saved without those files), so a client must check the comment's `attachments` rather
  than assume its files arrived.
- Files are at most 50 MB each (https://support.zendesk.com/hc/en-us/articles/4408832757146),
  `SANDBOX_UPLOAD_MAX_BYTES` here (tests set a small one). The reference documents no body for
  a larger file: the sandbox answers 413 in Zendesk's general error shape (the status HTTP
  gives a body over a server's limit), before reading the body when Content-Length tells.
- `content_url` is `/attachments/token/<secret>/?name=<file name>`: anyone holding the URL may
  download the file (Zendesk's default, without private attachments), always as a download.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import mimetypes
import random
import re
import secrets
import string
import struct
import zlib
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import models, transaction
from django.db.models import Prefetch
from django.utils import timezone

from sandbox.models import Comment, User
from sandbox.upload_models import Attachment, Upload

ATTACHMENT_ID_BASE = 930_000_000_000
TOKEN_ALPHABET = string.ascii_letters + string.digits
TOKEN_LENGTH = 25  # as long as Zendesk's, e.g. "LXJdriewLBP8JrtzzkN7Ne4k6"
MAX_FILE_NAME_LENGTH = 255
MAX_UPLOADS_PER_COMMENT = 100
FALLBACK_CONTENT_TYPE = "application/octet-stream"
# A MIME type's essence (type/subtype); anything else is not used as a Content-Type.
_MIME_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}")
# What HTML forms and curl send when nobody named the file's type: not the file's type.
_NOT_A_FILE_TYPE = {"application/x-www-form-urlencoded", "multipart/form-data"}

# Overrides set through POST /_sandbox/uploads (tests); empty means the settings hold.
_overrides: dict[str, int] = {}


class UploadNotFound(Exception):
    """The `token` to add a file to is unknown, expired, spent or another user's."""


# -- limits -----------------------------------------------------------------------------------


def max_bytes() -> int:
    return _overrides.get("max_bytes", settings.SANDBOX_UPLOAD_MAX_BYTES)


def token_ttl() -> dt.timedelta:
    return dt.timedelta(seconds=_overrides.get("token_ttl", settings.SANDBOX_UPLOAD_TOKEN_TTL))


def set_limits(*, max_bytes: int | None = None, token_ttl: int | None = None) -> None:
    """Replace the overrides (None: back to the setting)."""
    _overrides.clear()
    if max_bytes is not None:
        _overrides["max_bytes"] = max_bytes
    if token_ttl is not None:
        _overrides["token_ttl"] = token_ttl


def limits_json() -> dict[str, int]:
    return {"max_bytes": max_bytes(), "token_ttl": int(token_ttl().total_seconds())}


def human_size(size: int) -> str:
    """50 MB, 1 KB, 300 bytes: how the limit reads in an error."""
    for unit, factor in (("MB", 1024 * 1024), ("KB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


# -- files ------------------------------------------------------------------------------------


def content_type_for(declared: str, file_name: str) -> str:
    """The declared type if it is one; else a guess from the name; else octet-stream.

    Stored types are always a bare `type/subtype`, so serving one cannot inject a header.
    """
    essence = declared.split(";", 1)[0].strip().lower()
    if _MIME_TYPE.fullmatch(essence) and essence not in _NOT_A_FILE_TYPE:
        return essence
    guessed, _encoding = mimetypes.guess_type(file_name, strict=False)
    return guessed if guessed and _MIME_TYPE.fullmatch(guessed) else FALLBACK_CONTENT_TYPE


def image_size(content: bytes, content_type: str) -> tuple[int | None, int | None]:
    """Width and height of a PNG, GIF or JPEG image, read from its header; None if unknown."""
    if not content_type.startswith("image/"):
        return None, None
    try:
        if content[:8] == b"\x89PNG\r\n\x1a\n" and content[12:16] == b"IHDR":
            return struct.unpack(">II", content[16:24])
        if content[:6] in (b"GIF87a", b"GIF89a"):
            return struct.unpack("<HH", content[6:10])
        if content[:2] == b"\xff\xd8":
            return _jpeg_size(content)
    except struct.error:  # a header cut short: the size is unknown, the file is still a file
        pass
    return None, None


def _jpeg_size(content: bytes) -> tuple[int | None, int | None]:
    """Walk JPEG segments to the first start-of-frame marker, which holds the size."""
    offset = 2
    while offset + 9 < len(content):
        if content[offset] != 0xFF:
            return None, None
        marker = content[offset + 1]
        length = struct.unpack(">H", content[offset + 2 : offset + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE):
            height, width = struct.unpack(">HH", content[offset + 5 : offset + 9])
            return width, height
        offset += 2 + length
    return None, None


def new_token() -> str:
    return "".join(secrets.choice(TOKEN_ALPHABET) for _ in range(TOKEN_LENGTH))


def _next_attachment_id() -> int:
    """max(id) + 1 inside the (serialized) write transaction, as sandbox.domain numbers rows."""
    highest = Attachment.objects.aggregate(highest=models.Max("id"))["highest"]
    return max(highest or 0, ATTACHMENT_ID_BASE) + 1


def purge_expired(now: dt.datetime) -> None:
    """Files no comment took before their token expired are gone, as on Zendesk."""
    Attachment.objects.filter(comment__isnull=True, upload__expires_at__lte=now).delete()
    Attachment.objects.filter(comment__isnull=True, upload__isnull=True).delete()
    Upload.objects.filter(expires_at__lte=now).delete()


def store_file(
    *, user: User, file_name: str, declared_type: str, content: bytes, token: str | None
) -> tuple[Upload, Attachment]:
    """Keep one uploaded file in a new upload, or in the caller's live upload `token`."""
    now = timezone.now()
    with transaction.atomic():
        purge_expired(now)
        if token:
            upload = Upload.objects.filter(token=token, user=user, expires_at__gt=now).first()
            if upload is None:
                raise UploadNotFound(token)
        else:
            upload = Upload.objects.create(
                token=new_token(), user=user, created_at=now, expires_at=now + token_ttl()
            )
        content_type = content_type_for(declared_type, file_name)
        width, height = image_size(content, content_type)
        attachment = Attachment.objects.create(
            id=_next_attachment_id(),
            upload=upload,
            uploader=user,
            token=new_token(),
            file_name=file_name,
            content_type=content_type,
            size=len(content),
            width=width,
            height=height,
            content=content,
            created_at=now,
        )
    return upload, attachment


def discard_upload(*, user: User, token: str) -> bool:
    """Delete the caller's upload and the files no comment took; False if there is none."""
    with transaction.atomic():
        upload = Upload.objects.filter(token=token, user=user).first()
        if upload is None:
            return False
        Attachment.objects.filter(upload=upload, comment__isnull=True).delete()
        upload.delete()
    return True


def expire_all() -> int:
    """End every live upload now (tests): what waiting out the token's lifetime would do."""
    now = timezone.now()
    return Upload.objects.filter(expires_at__gt=now).update(expires_at=now)


def upload_attachments(upload: Upload) -> list[Attachment]:
    return list(upload.attachments.defer("content").order_by("id"))


def attach_uploads(comment: Comment, tokens: Iterable[str], *, uploader: User) -> int:
    """Move the files of `uploader`'s live uploads `tokens` to `comment`; spend the tokens.

    Runs inside the ticket write's transaction. Unknown, expired, spent or other users'
    tokens are ignored (see the module docstring). Returns how many files were attached.
    """
    tokens = list(tokens)
    if not tokens:
        return 0
    uploads = Upload.objects.filter(token__in=tokens, user=uploader, expires_at__gt=timezone.now())
    moved = Attachment.objects.filter(upload__in=uploads, comment__isnull=True).update(
        comment=comment, upload=None
    )
    uploads.delete()
    return moved


def attachment_for_download(token: str) -> Attachment | None:
    """The file behind a content_url, if it is on a comment or in a live upload."""
    attachment = Attachment.objects.select_related("upload").filter(token=token).first()
    if attachment is None:
        return None
    if attachment.comment_id is not None:
        return attachment
    upload = attachment.upload
    if upload is None or upload.expires_at <= timezone.now():
        return None
    return attachment


# -- rendering --------------------------------------------------------------------------------


def content_url(attachment: Attachment, *, base_url: str) -> str:
    name = quote(attachment.file_name, safe="")
    return f"{base_url}/attachments/token/{attachment.token}/?name={name}"


def attachment_json(attachment: Attachment, *, base_url: str) -> dict[str, Any]:
    """One attachment with the keys, in the order, of Zendesk's recorded comment attachments;
    width and height are strings, as the OpenAPI description has them, or null."""
    url = content_url(attachment, base_url=base_url)
    return {
        "url": f"{base_url}/api/v2/attachments/{attachment.id}.json",
        "id": attachment.id,
        "file_name": attachment.file_name,
        "content_url": url,
        "mapped_content_url": url,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "width": str(attachment.width) if attachment.width is not None else None,
        "height": str(attachment.height) if attachment.height is not None else None,
        "inline": attachment.inline,
        "deleted": False,
        "malware_access_override": False,
        "malware_scan_result": "malware_not_found",
        # Zendesk makes thumbnails of images later and not always; the sandbox makes none.
        "thumbnails": [],
    }


def upload_json(upload: Upload, attachment: Attachment, *, base_url: str) -> dict[str, Any]:
    """The answer to POST /uploads: the token, when it expires, every file so far, this one."""
    from sandbox.serializers import timestamp

    return {
        "upload": {
            "token": upload.token,
            "expires_at": timestamp(upload.expires_at),
            "attachments": [
                attachment_json(each, base_url=base_url) for each in upload_attachments(upload)
            ],
            "attachment": attachment_json(attachment, base_url=base_url),
        }
    }


def audit_events_json(events: list[dict[str, Any]], *, base_url: str) -> list[dict[str, Any]]:
    """An audit's events, its Comment event listing the files the comment took (the stored
    event predates them and knows no host)."""
    rendered = []
    for event in events:
        if event.get("type") == "Comment" and event.get("id") is not None:
            files = Attachment.objects.filter(comment_id=event["id"]).defer("content")
            event = {
                **event,
                "attachments": [
                    attachment_json(each, base_url=base_url) for each in files.order_by("id")
                ],
            }
        rendered.append(event)
    return rendered


def _without_content() -> Prefetch:
    return Prefetch("attachments", queryset=Attachment.objects.defer("content").order_by("id"))


def prefetch_attachments(comments: list[Comment]) -> None:
    """One query for the attachments of a page of comments (their bytes stay in the database)."""
    models.prefetch_related_objects(comments, _without_content())


def comment_attachments_json(comment: Comment, *, base_url: str) -> list[dict[str, Any]]:
    cached = getattr(comment, "_prefetched_objects_cache", {}).get("attachments")
    if cached is None:
        cached = Attachment.objects.filter(comment_id=comment.id).defer("content").order_by("id")
    return [attachment_json(attachment, base_url=base_url) for attachment in cached]


# -- seed -------------------------------------------------------------------------------------

SEED_TEXT_NAMES = ["steps-to-reproduce.txt", "error-log.txt", "browser-console.txt"]
SEED_IMAGE_NAMES = ["screenshot.png", "error-screen.png"]


def tiny_png(width: int, height: int, colours: list[tuple[int, int, int]]) -> bytes:
    """A small RGB PNG in horizontal stripes of `colours`, made without an image library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)

    rows = b"".join(
        b"\x00" + bytes(colours[(y * len(colours)) // height]) * width for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def _seed_token(seed: int, attachment_id: int) -> str:
    """Reproducible for a seed, yet not guessable without the sandbox's secret key."""
    message = f"attachment:{seed}:{attachment_id}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).digest()
    return "".join(TOKEN_ALPHABET[byte % len(TOKEN_ALPHABET)] for byte in digest[:TOKEN_LENGTH])


def _seed_text(comment: Comment, rng: random.Random) -> bytes:
    lines = [
        f"Ticket #{comment.ticket_id}, reported {comment.created_at:%Y-%m-%d %H:%M} UTC",
        "1. Sign in",
        "2. Open the page",
        f"3. Click save: error {rng.choice([500, 502, 504])} after {rng.randint(2, 30)} s",
    ]
    return ("\n".join(lines) + "\n").encode()


def seed_attachments(comments: list[Comment], *, seed: int) -> int:
    """Files on some seeded comments: text logs and small screenshots, the same for a seed.

    Uses its own random source, so adding attachments changes nothing else the seed makes.
    """
    rng = random.Random(f"sandbox-attachments:{seed}")
    rows: list[Attachment] = []

    def add(comment: Comment, file_name: str, content_type: str, content: bytes) -> None:
        attachment_id = ATTACHMENT_ID_BASE + len(rows) + 1
        width, height = image_size(content, content_type)
        rows.append(
            Attachment(
                id=attachment_id,
                comment_id=comment.id,
                uploader_id=comment.author_id,
                token=_seed_token(seed, attachment_id),
                file_name=file_name,
                content_type=content_type,
                size=len(content),
                width=width,
                height=height,
                content=content,
                created_at=comment.created_at,
            )
        )

    for comment in comments:
        roll = rng.random()
        if roll < 0.08:
            add(comment, rng.choice(SEED_TEXT_NAMES), "text/plain", _seed_text(comment, rng))
        if 0.05 <= roll < 0.11:
            colours = [tuple(rng.randint(0, 255) for _ in range(3)) for _ in range(3)]
            png = tiny_png(rng.randint(12, 32), rng.randint(8, 24), colours)
            add(comment, rng.choice(SEED_IMAGE_NAMES), "image/png", png)
    Attachment.objects.bulk_create(rows, batch_size=500)
    return len(rows)
