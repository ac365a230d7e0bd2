"""``outbox://TENANT``: an apprise notifier that writes each message to a file under the Garrison home.

It is the embedded default sink, so a user can read exactly what the customer would receive.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from apprise.decorators import notify

from flows.settings import get_settings


@notify(on="outbox", name="Garrison local outbox")
def write_to_outbox(
    body: str, title: str, notify_type: str, meta: dict[str, Any], *args: Any, **kwargs: Any
) -> bool:
    tenant = re.sub(r"[^a-z0-9_-]", "_", str(meta.get("host") or "default").lower())[:64]
    folder = get_settings().outbox_dir / tenant
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    path = folder / f"{stamp}-{uuid.uuid4().hex[:8]}.txt"
    path.write_text(f"Subject: {title}\n\n{body}", encoding="utf-8")
    return True
