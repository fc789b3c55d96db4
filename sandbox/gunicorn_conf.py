"""Gunicorn settings for the sandbox (`--config python:sandbox.gunicorn_conf`).

Gunicorn answers an over-long request line or header itself, with an HTML 414/431 page,
before the sandbox sees the request. Its own limits are lifted here so that such requests
reach sandbox.guard, which answers them in Zendesk's JSON error shape
(`{"error": ..., "description": ...}`), as every other refusal of the sandbox is.
"""

limit_request_line = 0  # unlimited: sandbox.guard.MAX_REQUEST_LINE answers 414
# Gunicorn reads 0 here as its default (8190), not as unlimited: 1 MiB instead, so headers
# between sandbox.guard.MAX_HEADER_BYTES and this get the sandbox's JSON 431.
limit_request_field_size = 1024 * 1024
