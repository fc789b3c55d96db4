"""Strict JSON request bodies: what `json.loads` accepts but the sandbox cannot use is refused.

Two inputs get past `json.loads` (or out of it) as something other than ValueError and used
to end as a 500: nesting deeper than the interpreter's recursion limit (RecursionError), and
a lone surrogate escape such as `"\\ud800"`, which decodes into a `str` that cannot be encoded
as UTF-8, so the first database write or digest of it failed. Both are ValueError here, which
every caller already turns into its 400.
"""

from __future__ import annotations

import json
from typing import Any


def loads(raw: bytes | str) -> Any:
    """`json.loads(raw)`; ValueError for invalid JSON, too deep nesting or lone surrogates."""
    try:
        value = json.loads(raw)
        json.dumps(value, ensure_ascii=False).encode()
    except RecursionError as exc:
        raise ValueError("the JSON is nested too deeply") from exc
    except UnicodeEncodeError as exc:
        raise ValueError("the JSON holds a lone surrogate escape, which is not text") from exc
    return value
