"""Customer notifications: sandboxed templates, defanged indicators, apprise delivery with receipts."""

from ._deliver import Receipt, deliver
from ._render import TEMPLATES_DIR, Rendered, render

__all__ = ["TEMPLATES_DIR", "Receipt", "Rendered", "deliver", "render"]
