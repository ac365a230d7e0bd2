"""``outbox://TENANT``: an apprise notifier that writes each message to a file under the Garrison home.

It is the embedded default sink, so a user can read exactly what the customer would receive. File names
sort in the order the messages were written (microsecond timestamps); the extension follows the
message's format (``.txt``, ``.md``, ``.html``).
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from apprise.decorators import notify

from flows.settings import get_settings

_EXTENSIONS = {"markdown": "md", "html": "html"}


@notify(on="outbox", name="Garrison local outbox")
def write_to_outbox(
    body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any
) -> bool:
    tenant = re.sub(r"[^a-z0-9_-]", "_", str(meta.get("host") or "default").lower())[:64]
    folder = get_settings().outbox_dir / tenant
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%f")
    body_format = kwargs.get("body_format")
    extension = _EXTENSIONS.get(str(getattr(body_format, "value", body_format) or ""), "txt")
    path = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.{extension}"
    path.write_text(f"Subject: {title}\n\n{body}", encoding="utf-8")
    return True
