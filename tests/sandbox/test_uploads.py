"""Uploads and attachments over real HTTP: upload, attach through a comment, download safely."""

from __future__ import annotations

import datetime as dt
import struct
import uuid
import zlib
from urllib.parse import urlsplit

import pytest
import requests

from tests.sandbox.test_writes import new_ticket, post_ticket, put_ticket
from tests.sandboxserver import SandboxServer

TIMEOUT = 10
# The keys, in order, of the attachments in Zendesk's recorded comments.
RECORDED_ATTACHMENT_KEYS = [
    "url",
    "id",
    "file_name",
    "content_url",
    "mapped_content_url",
    "content_type",
    "size",
    "width",
    "height",
    "inline",
    "deleted",
    "malware_access_override",
    "malware_scan_result",
    "thumbnails",
]


# -- helpers ------------------------------------------------------------------------------


def png(width: int, height: int) -> bytes:
    """A valid one-colour RGB PNG, made here so the test owns its fixture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    rows = b"".join(b"\x00" + b"\x10\x80\xf0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def upload(
    sandbox: SandboxServer,
    email: str,
    content: bytes,
    *,
    filename: str | None = "notes.txt",
    content_type: str = "text/plain",
    token: str | None = None,
) -> requests.Response:
    params = {key: value for key, value in (("filename", filename), ("token", token)) if value}
    return requests.post(
        f"{sandbox.base_url}/api/v2/uploads.json",
        params=params,
        data=content,
        headers={**sandbox.basic_auth(email), "Content-Type": content_type},
        timeout=TIMEOUT,
    )


def uploaded(sandbox: SandboxServer, email: str, content: bytes, **kwargs) -> dict:
    response = upload(sandbox, email, content, **kwargs)
    assert response.status_code == 201, response.text
    return response.json()["upload"]


def comments(sandbox: SandboxServer, email: str, ticket_id: int) -> list[dict]:
    response = sandbox.get(f"/api/v2/tickets/{ticket_id}/comments.json", as_email=email)
    assert response.status_code == 200, response.text
    return response.json()["comments"]


def download(url: str) -> requests.Response:
    return requests.get(url, timeout=TIMEOUT)


@pytest.fixture
def agent(sandbox: SandboxServer) -> str:
    return sandbox.agent(role="admin")["email"]


@pytest.fixture
def limits(sandbox: SandboxServer):
    """Set upload limits for one test; the settings' limits come back afterwards."""

    def set_limits(**values) -> dict:
        response = sandbox.control("POST", "uploads", json=values)
        assert response.status_code == 200, response.text
        return response.json()

    yield set_limits
    sandbox.control("POST", "uploads", json={})


# -- uploading ----------------------------------------------------------------------------


def test_an_upload_answers_a_token_that_lives_three_days_and_the_file(sandbox, agent):
    before = dt.datetime.now(dt.UTC)

    body = uploaded(sandbox, agent, b"line one\nline two\n", filename="steps.txt")

    assert len(body["token"]) == 25
    assert body["token"].isalnum()
    expires = dt.datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    assert dt.timedelta(days=3) - dt.timedelta(minutes=5) < expires - before
    assert expires - before < dt.timedelta(days=3, minutes=5)
    attachment = body["attachment"]
    assert list(attachment) == RECORDED_ATTACHMENT_KEYS
    assert body["attachments"] == [attachment]
    assert attachment["file_name"] == "steps.txt"
    assert attachment["content_type"] == "text/plain"
    assert attachment["size"] == 18
    assert attachment["width"] is None
    assert attachment["url"] == f"{sandbox.base_url}/api/v2/attachments/{attachment['id']}.json"
    assert attachment["content_url"].endswith("/?name=steps.txt")


def test_a_token_gathers_several_files(sandbox, agent):
    first = uploaded(sandbox, agent, b"one", filename="one.txt")

    second = uploaded(sandbox, agent, b"two", filename="two.txt", token=first["token"])

    assert second["token"] == first["token"]
    assert [a["file_name"] for a in second["attachments"]] == ["one.txt", "two.txt"]
    assert second["attachment"]["file_name"] == "two.txt"


def test_an_image_reports_its_size_as_zendesk_does(sandbox, agent):
    body = uploaded(sandbox, agent, png(16, 9), filename="crash.png", content_type="image/png")

    attachment = body["attachment"]
    assert attachment["content_type"] == "image/png"
    assert (attachment["width"], attachment["height"]) == ("16", "9")


def test_a_missing_type_is_guessed_from_the_file_name(sandbox, agent):
    body = uploaded(
        sandbox,
        agent,
        b"a,b\n1,2\n",
        filename="report.csv",
        content_type="application/x-www-form-urlencoded",
    )

    assert body["attachment"]["content_type"] == "text/csv"


def test_a_multipart_form_upload_is_read_from_uploaded_data(sandbox, agent):
    response = requests.post(
        f"{sandbox.base_url}/api/v2/uploads.json",
        params={"filename": "form.txt"},
        files={"uploaded_data": ("form.txt", b"from a form", "text/plain")},
        headers=sandbox.basic_auth(agent),
        timeout=TIMEOUT,
    )

    assert response.status_code == 201, response.text
    attachment = response.json()["upload"]["attachment"]
    assert attachment["size"] == len(b"from a form")
    assert download(attachment["content_url"]).content == b"from a form"


# -- downloading --------------------------------------------------------------------------


def test_the_content_url_answers_the_bytes_as_a_download(sandbox, agent):
    content = png(4, 4)
    body = uploaded(sandbox, agent, content, filename="shot.png", content_type="image/png")

    response = download(body["attachment"]["content_url"])

    assert response.status_code == 200
    assert response.content == content
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"] == 'attachment; filename="shot.png"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_a_hostile_html_file_cannot_run_when_opened(sandbox, agent):
    page = b"<html><script>alert(document.cookie)</script></html>"
    body = uploaded(sandbox, agent, page, filename="evil.html", content_type="text/html")

    response = download(body["attachment"]["content_url"])

    assert response.content == page
    assert response.headers["Content-Disposition"].startswith("attachment;")
    policy = response.headers["Content-Security-Policy"]
    assert policy.split(";")[0] == "sandbox"
    assert "default-src 'none'" in policy


def test_a_file_name_with_quotes_and_accents_stays_one_safe_header(sandbox, agent):
    body = uploaded(sandbox, agent, b"x", filename='résumé "final".txt')

    response = download(body["attachment"]["content_url"])

    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename*=utf-8''")
    assert '"final"' not in disposition


def test_an_unknown_content_token_is_zendesks_404(sandbox):
    response = download(f"{sandbox.base_url}/attachments/token/nosuchtoken123/?name=x.txt")

    assert response.status_code == 404
    assert response.json()["error"] == "RecordNotFound"


# -- attaching ----------------------------------------------------------------------------


def test_a_comment_takes_the_files_of_an_upload_token(sandbox, agent):
    ticket = new_ticket(sandbox, agent)
    token = uploaded(sandbox, agent, b"log line\n", filename="error.log")["token"]
    token = uploaded(
        sandbox, agent, png(3, 2), filename="a.png", content_type="image/png", token=token
    )["token"]

    response = put_ticket(
        sandbox, agent, ticket["id"], {"comment": {"body": "See attached", "uploads": [token]}}
    )

    assert response.status_code == 200, response.text
    event = next(e for e in response.json()["audit"]["events"] if e["type"] == "Comment")
    assert [a["file_name"] for a in event["attachments"]] == ["error.log", "a.png"]
    last = comments(sandbox, agent, ticket["id"])[-1]
    assert last["body"] == "See attached"
    assert [a["file_name"] for a in last["attachments"]] == ["error.log", "a.png"]
    assert all(list(a) == RECORDED_ATTACHMENT_KEYS for a in last["attachments"])
    assert download(last["attachments"][0]["content_url"]).content == b"log line\n"


def test_a_new_ticket_takes_the_files_of_its_first_comment(sandbox, agent):
    token = uploaded(sandbox, agent, b"invoice", filename="invoice.txt")["token"]

    response = post_ticket(
        sandbox, agent, {"subject": "Files", "comment": {"body": "Here", "uploads": [token]}}
    )

    assert response.status_code == 201, response.text
    first = comments(sandbox, agent, response.json()["ticket"]["id"])[0]
    assert [a["file_name"] for a in first["attachments"]] == ["invoice.txt"]


def test_a_spent_token_attaches_nothing_more_and_takes_no_more_files(sandbox, agent):
    ticket = new_ticket(sandbox, agent)
    token = uploaded(sandbox, agent, b"once", filename="once.txt")["token"]
    put_ticket(sandbox, agent, ticket["id"], {"comment": {"body": "first", "uploads": [token]}})

    again = put_ticket(
        sandbox, agent, ticket["id"], {"comment": {"body": "second", "uploads": [token]}}
    )

    assert again.status_code == 200
    assert comments(sandbox, agent, ticket["id"])[-1]["attachments"] == []
    assert upload(sandbox, agent, b"more", token=token).status_code == 404


def test_unknown_expired_and_other_peoples_tokens_are_ignored(sandbox, agent):
    ticket = new_ticket(sandbox, agent)
    someone_else = sandbox.agent(role="agent", restricted=False, suspended=False)["email"]
    theirs = uploaded(sandbox, someone_else, b"theirs", filename="theirs.txt")["token"]
    expired = uploaded(sandbox, agent, b"old", filename="old.txt")["token"]
    sandbox.control("POST", "uploads/expire").raise_for_status()
    live = uploaded(sandbox, agent, b"live", filename="live.txt")["token"]

    response = put_ticket(
        sandbox,
        agent,
        ticket["id"],
        {"comment": {"body": "mixed", "uploads": ["NoSuchToken", "\x00", theirs, expired, live]}},
    )

    assert response.status_code == 200, response.text
    last = comments(sandbox, agent, ticket["id"])[-1]
    assert [a["file_name"] for a in last["attachments"]] == ["live.txt"]


def test_an_expired_uploads_files_are_gone(sandbox, agent):
    body = uploaded(sandbox, agent, b"soon gone", filename="gone.txt")
    assert download(body["attachment"]["content_url"]).status_code == 200

    sandbox.control("POST", "uploads/expire").raise_for_status()

    assert download(body["attachment"]["content_url"]).status_code == 404
    assert upload(sandbox, agent, b"late", token=body["token"]).status_code == 404


def test_deleting_an_upload_removes_its_files(sandbox, agent):
    body = uploaded(sandbox, agent, b"oops", filename="wrong-file.txt")
    url = f"{sandbox.base_url}/api/v2/uploads/{body['token']}.json"

    deleted = requests.delete(url, headers=sandbox.basic_auth(agent), timeout=TIMEOUT)
    again = requests.delete(url, headers=sandbox.basic_auth(agent), timeout=TIMEOUT)

    assert deleted.status_code == 204
    assert again.status_code == 404
    assert download(body["attachment"]["content_url"]).status_code == 404


def test_an_attachment_shows_to_those_who_may_see_its_ticket(sandbox, agent):
    ticket = new_ticket(sandbox, agent, group_id=None)
    token = uploaded(sandbox, agent, b"private", filename="p.txt")["token"]
    put_ticket(sandbox, agent, ticket["id"], {"comment": {"body": "x", "uploads": [token]}})
    attachment = comments(sandbox, agent, ticket["id"])[-1]["attachments"][0]
    path = f"/api/v2/attachments/{attachment['id']}.json"
    restricted = sandbox.agent(restricted=True)["email"]

    shown = sandbox.get(path, as_email=agent)

    assert shown.status_code == 200
    assert shown.json()["attachment"] == attachment
    assert sandbox.get(path, as_email=restricted).status_code == 403


# -- limits and bad input -----------------------------------------------------------------


def test_a_file_over_the_limit_is_refused_with_413(sandbox, agent, limits):
    limits(max_bytes=1024)

    exactly = upload(sandbox, agent, b"x" * 1024)
    over = upload(sandbox, agent, b"x" * 1025)

    assert exactly.status_code == 201
    assert over.status_code == 413
    assert over.json()["error"] == "RequestTooLarge"
    assert "1 KB" in over.json()["description"]


def test_a_multipart_file_over_the_limit_is_refused_with_413(sandbox, agent, limits):
    limits(max_bytes=1024)

    response = requests.post(
        f"{sandbox.base_url}/api/v2/uploads.json",
        params={"filename": "big.bin"},
        files={"uploaded_data": ("big.bin", b"x" * 2000, "application/octet-stream")},
        headers=sandbox.basic_auth(agent),
        timeout=TIMEOUT,
    )

    assert response.status_code == 413


def test_the_default_limit_is_zendesks_50_mb(sandbox):
    assert sandbox.control("GET", "uploads").json()["max_bytes"] == 50 * 1024 * 1024


@pytest.mark.parametrize(
    ("filename", "content", "field"),
    [
        (None, b"x", "filename"),
        ("   ", b"x", "filename"),
        ("a" * 256 + ".txt", b"x", "filename"),
        ("bad\nname.txt", b"x", "filename"),
        ("empty.txt", b"", "uploaded_data"),
    ],
)
def test_an_unusable_upload_is_a_422_record_invalid(sandbox, agent, filename, content, field):
    response = upload(sandbox, agent, content, filename=filename)

    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "RecordInvalid"
    assert list(body["details"]) == [field]


def test_an_unknown_token_to_add_to_is_a_404(sandbox, agent):
    response = upload(sandbox, agent, b"x", token="NoSuchToken")

    assert response.status_code == 404
    assert response.json() == {"error": "RecordNotFound", "description": "Not found"}


@pytest.mark.parametrize(
    "uploads", [42, {"token": "abc"}, [1, 2], [f"token{n}" for n in range(101)]]
)
def test_comment_uploads_of_the_wrong_shape_are_a_422(sandbox, agent, uploads):
    ticket = new_ticket(sandbox, agent)

    response = put_ticket(
        sandbox, agent, ticket["id"], {"comment": {"body": "x", "uploads": uploads}}
    )

    assert response.status_code == 422
    assert "comment" in response.json()["details"]


def test_uploading_needs_credentials_and_the_write_scope(sandbox):
    response = requests.post(
        f"{sandbox.base_url}/api/v2/uploads.json?filename=a.txt", data=b"x", timeout=TIMEOUT
    )

    assert response.status_code == 401


@pytest.mark.parametrize(
    "body", [{"max_bytes": 0}, {"token_ttl": -1}, {"max_bytes": "big"}, {"size": 1}, [1]]
)
def test_the_upload_control_refuses_bad_limits(sandbox, body):
    response = sandbox.control("POST", "uploads", json=body)

    assert response.status_code == 400
    assert response.json()["error"] == "InvalidControl"


# -- the seed -----------------------------------------------------------------------------


def seeded_attachments(sandbox: SandboxServer, email: str) -> list[dict]:
    """The attachments on the first tickets' comments (the seed puts some there)."""
    found = []
    for ticket_id in range(1, 41):
        for comment in comments(sandbox, email, ticket_id):
            found.extend(comment["attachments"])
    return found


def test_some_seeded_comments_carry_a_text_file_or_a_tiny_png(sandbox, agent):
    sandbox.reset()

    found = seeded_attachments(sandbox, agent)

    texts = [a for a in found if a["content_type"] == "text/plain"]
    images = [a for a in found if a["content_type"] == "image/png"]
    assert texts
    assert images
    text = download(texts[0]["content_url"])
    assert text.status_code == 200
    assert text.content.decode().startswith("Ticket #")
    image = download(images[0]["content_url"]).content
    assert image.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", image[16:24])
    assert (images[0]["width"], images[0]["height"]) == (str(width), str(height))
    assert images[0]["size"] == len(image)


def test_the_seeded_attachments_are_the_same_after_a_reset(sandbox, agent):
    sandbox.reset()
    before = seeded_attachments(sandbox, agent)

    sandbox.reset()

    after = seeded_attachments(sandbox, agent)
    assert [urlsplit(a["content_url"]).path for a in after] == [
        urlsplit(a["content_url"]).path for a in before
    ]
    assert [(a["id"], a["file_name"], a["size"]) for a in after] == [
        (a["id"], a["file_name"], a["size"]) for a in before
    ]


def test_an_upload_token_is_unique_each_time(sandbox, agent):
    tokens = {uploaded(sandbox, agent, uuid.uuid4().bytes)["token"] for _ in range(3)}

    assert len(tokens) == 3
