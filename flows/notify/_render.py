"""Render notifications from our own template files, in a sandbox, with every IOC defanged.

Alert data only ever reaches templates as values: a hostname of ``{{7*7}}`` is printed as those seven
characters. Templates come from ``templates/<lang>/<event>.<channel>.<ext>.j2`` and nowhere else.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound, select_autoescape
from jinja2.sandbox import ImmutableSandboxedEnvironment

from flows.models import defang, defang_text

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
MAX_OUTPUT_CHARS = 64_000
_log = logging.getLogger("garrison.notify")


@dataclass(frozen=True)
class Rendered:
    subject: str
    body: str
    language: str
    template: str


def _environment(directory: Path) -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(directory),
        undefined=StrictUndefined,
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"), default_for_string=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.clear()  # no range(), lipsum(), dict() …: templates get data and filters, nothing else
    env.filters["defang"] = lambda value: defang(str(value))
    env.filters["defang_text"] = lambda value: defang_text(str(value))
    env.filters["md"] = escape_markdown
    return env


# Values always sit inside a line (newlines become spaces), so only inline syntax needs escaping:
# links and images ([ ] !), autolinks and raw HTML (< >), emphasis and code (* _ ~ `), tables (|).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~!])")


def escape_markdown(value: object) -> str:
    """Make a value inert inside a Markdown line: no links, emphasis, tables or raw HTML.

    >>> escape_markdown("[Approve](https://evil) <b>")
    '\\[Approve\\](https://evil) \\<b\\>'
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", str(value).replace("\r", " ").replace("\n", " "))


_ENVIRONMENTS: dict[Path, ImmutableSandboxedEnvironment] = {}


def render(
    event: str,
    channel: str,
    ext: str,
    language: str,
    context: dict[str, Any],
    templates_dir: Path = TEMPLATES_DIR,
) -> Rendered:
    """Render ``<language>/<event>.<channel>.<ext>.j2``, falling back to English with a warning.

    The first line of the output is the subject; the rest is the body.
    """
    env = _ENVIRONMENTS.setdefault(templates_dir, _environment(templates_dir))
    name = f"{event}.{channel}.{ext}.j2"
    try:
        template = env.get_template(f"{language}/{name}")
        used = language
    except TemplateNotFound:
        _log.warning("no %s template for language %s; using en", name, language)
        template = env.get_template(f"en/{name}")
        used = "en"
    output = template.render(**context)
    if len(output) > MAX_OUTPUT_CHARS:
        output = output[: MAX_OUTPUT_CHARS - 20] + "\n… (truncated)\n"
    subject, _, body = output.partition("\n")
    return Rendered(
        subject=subject.strip()[:300], body=body.strip() + "\n", language=used, template=f"{used}/{name}"
    )
