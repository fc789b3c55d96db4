"""Users' photos: what `photo` says on a user, and the images themselves.

Real users carry `photo` as an attachment with its thumbnails (recorded from real accounts):
`{url, id, file_name, content_url, mapped_content_url, content_type, size, width, height,
inline, deleted, thumbnails: [...]}`, the image served under /system/photos/:
https://developer.zendesk.com/api-reference/ticketing/users/users/#json-format

The seed gives most agents a photo by storing its path in `User.photo_url`
(`/system/photos/<photo id>/photo.png`); `url` fields are made absolute per request. The
images are small PNGs drawn here (a flat colour per photo), so `size` is the real byte count
of what GET content_url answers.
"""

from __future__ import annotations

import functools
import hashlib
import struct
import zlib
from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse

from sandbox.models import User
from sandbox.routing import route

PHOTO_ID_BASE = 930_000_000_000
PHOTO_SIZE = 80
THUMB_SIZE = 32
PHOTO_NAME = "photo.png"
THUMB_NAME = "photo_thumb.png"


def photo_path(photo_id: int) -> str:
    return f"/system/photos/{photo_id}/{PHOTO_NAME}"


def photo_id_for(number: int) -> int:
    """The seed's photo id for its `number`th user (thumbnails take the id after it)."""
    return PHOTO_ID_BASE + number * 2


def _chunk(kind: bytes, data: bytes) -> bytes:
    checksum = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", checksum)


@functools.lru_cache(maxsize=256)
def png(photo_id: int, side: int) -> bytes:
    """A side x side PNG in a colour of its own (8-bit RGB, no filter), deterministic."""
    red, green, blue = hashlib.sha256(str(photo_id).encode()).digest()[:3]
    row = b"\x00" + bytes((red, green, blue)) * side
    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(row * side))
        + _chunk(b"IEND", b"")
    )


def _image_json(photo_id: int, image_id: int, name: str, side: int, base_url: str) -> dict:
    content_url = f"{base_url}/system/photos/{photo_id}/{name}"
    return {
        "url": f"{base_url}/api/v2/attachments/{image_id}.json",
        "id": image_id,
        "file_name": name,
        "content_url": content_url,
        "mapped_content_url": content_url,
        "content_type": "image/png",
        "size": len(png(photo_id, side)),
        "width": side,
        "height": side,
        "inline": False,
        "deleted": False,
    }


def _photo_id(photo_url: str | None) -> int | None:
    """The photo id in a stored `/system/photos/<id>/photo.png` path, else None."""
    if not photo_url or not photo_url.startswith("/system/photos/"):
        return None
    segment = photo_url.split("/")[3]
    return int(segment) if segment.isascii() and segment.isdigit() else None


def photo_json(photo_url: str | None, *, base_url: str) -> dict[str, Any] | None:
    """A user's `photo`, or null for a user without one."""
    photo_id = _photo_id(photo_url)
    if photo_id is None:
        return None
    body = _image_json(photo_id, photo_id, PHOTO_NAME, PHOTO_SIZE, base_url)
    body["thumbnails"] = [_image_json(photo_id, photo_id + 1, THUMB_NAME, THUMB_SIZE, base_url)]
    return body


def photo_image(request: HttpRequest, photo_id: str, name: str) -> HttpResponse:
    """GET /system/photos/<id>/photo.png (or photo_thumb.png): public, as Zendesk's are."""
    sides = {PHOTO_NAME: PHOTO_SIZE, THUMB_NAME: THUMB_SIZE}
    known = photo_id.isascii() and photo_id.isdigit() and name in sides
    if not known or not User.objects.filter(photo_url=photo_path(int(photo_id))).exists():
        return JsonResponse({"error": "RecordNotFound", "description": "Not found"}, status=404)
    response = HttpResponse(png(int(photo_id), sides[name]), content_type="image/png")
    response["Cache-Control"] = "max-age=86400, public"
    return response


route(r"system/photos/(?P<photo_id>[^/]+)/(?P<name>[^/]+)", "GET", photo_image, raw=True)
