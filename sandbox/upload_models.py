"""Uploads and attachments (Zendesk's Attachments API), kept beside sandbox.models.

An upload is a token that gathers files until a comment takes them: `POST /uploads` stores
each file as an Attachment of the upload; a ticket create or update whose comment lists the
token moves the attachments to that comment and the token is spent. `models.py` imports these
classes, so Django finds them as models of the sandbox app.
"""

# Rows never shown in an admin, so no __str__ (as pyproject says for sandbox/models.py).
# ruff: noqa: DJ008

from __future__ import annotations

from django.db import models


class Upload(models.Model):
    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey("sandbox.User", on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)


class Attachment(models.Model):
    """One file: of an upload until a comment takes it, then of that comment."""

    id = models.BigIntegerField(primary_key=True)
    upload = models.ForeignKey(
        Upload, null=True, blank=True, on_delete=models.SET_NULL, related_name="attachments"
    )
    comment = models.ForeignKey(
        "sandbox.Comment",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="attachments",
    )
    uploader = models.ForeignKey("sandbox.User", on_delete=models.CASCADE, related_name="+")
    # The secret in content_url (/attachments/token/<token>/?name=...), as Zendesk's.
    token = models.CharField(max_length=64, unique=True)
    file_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=255)
    size = models.BigIntegerField()
    width = models.IntegerField(null=True, blank=True)
    height = models.IntegerField(null=True, blank=True)
    inline = models.BooleanField(default=False)
    content = models.BinaryField()
    created_at = models.DateTimeField()
