"""Render notifications from our own template files, in a sandbox, with every IOC defanged.

Alert data only ever reaches templates as values: a hostname of ``{{7*7}}`` is printed as those seven
characters. Templates come from ``templates/<lang>/<event>.<channel>.<ext>.j2`` and nowhere else.

Each channel has its own environment whose ``finalize`` escapes every ``{{ value }}`` for that channel
(HTML by autoescape, Markdown and Slack by their own escapers), so a template cannot forget to escape.
"""

from __future__ import annotations

import html
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import ImmutableSandboxedEnvironment

from flows.models import defang, defang_text

TEMPLATES_DIR = Path(__file__).resolve().parents[2] / "templates"
MAX_OUTPUT_CHARS = 64_000
# A Slack section block holds at most 3000 characters; longer reports go by email or as the artifact.
MAX_CHARS = {"slack": 2_900}
# channel → file extension of its templates
CHANNELS: dict[str, str] = {"text": "txt", "markdown": "md", "html": "html", "slack": "txt"}
_log = logging.getLogger("garrison.notify")


@dataclass(frozen=True)
class Rendered:
    subject: str  # plain text, except for markdown, whose subject is a heading line
    body: str  # in the channel's format
    language: str
    template: str
    channel: str = "text"


# Values always sit inside a line (newlines become spaces), so only inline syntax needs escaping:
# links and images ([ ] !), autolinks and raw HTML (< >), emphasis and code (* _ ~ `), tables (|).
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|~!#])")


def escape_markdown(value: object) -> str:
    """Make a value inert inside a Markdown line: no links, emphasis, tables or raw HTML.

    >>> escape_markdown("[Approve](https://evil) <b>")
    '\\\\[Approve\\\\](https://evil) \\\\<b\\\\>'
    """
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _one_line(value))


def escape_slack(value: object) -> str:
    """Make a value inert in Slack mrkdwn: ``& < >`` become entities, so no ``<url|label>`` link and no
    ``<!channel>``/``<@user>`` mention can form (Slack parses nothing else into a link or a ping).

    >>> escape_slack("<!channel> & <https://evil|Approve>")
    '&lt;!channel&gt; &amp; &lt;https://evil|Approve&gt;'
    """
    return _one_line(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _one_line(value: object) -> str:
    return str(value).replace("\r", " ").replace("\n", " ")


def _environment(directory: Path, channel: str) -> ImmutableSandboxedEnvironment:
    finalize = {"markdown": escape_markdown, "slack": escape_slack}.get(channel)
    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(directory),
        undefined=StrictUndefined,
        autoescape=channel == "html",
        finalize=finalize,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.clear()  # no range(), lipsum(), dict() …: templates get data and filters, nothing else
    env.filters["defang"] = lambda value: defang(str(value))
    env.filters["defang_text"] = lambda value: defang_text(str(value))
    return env


_ENVIRONMENTS: dict[tuple[Path, str], ImmutableSandboxedEnvironment] = {}


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
    key = (templates_dir, channel)
    env = _ENVIRONMENTS.get(key) or _ENVIRONMENTS.setdefault(key, _environment(templates_dir, channel))
    name = f"{event}.{channel}.{ext}.j2"
    try:
        template = env.get_template(f"{language}/{name}")
        used = language
    except TemplateNotFound:
        _log.warning("no %s template for language %s; using en", name, language)
        template = env.get_template(f"en/{name}")
        used = "en"
    output = template.render(**context)
    limit = MAX_CHARS.get(channel, MAX_OUTPUT_CHARS)
    if len(output) > limit:
        output = output[: limit - 20] + "\n… (truncated)\n"
    subject, _, body = output.partition("\n")
    subject = subject.strip()
    if channel in ("html", "slack"):
        # Subjects travel as plain text (e-mail Subject, Slack header): undo the channel's escaping.
        subject = html.unescape(subject)
    return Rendered(
        subject=subject[:300],
        body=body.strip() + "\n",
        language=used,
        template=f"{used}/{name}",
        channel=channel,
    )


def render_channel(
    event: str, channel: str, language: str, context: dict[str, Any], templates_dir: Path = TEMPLATES_DIR
) -> Rendered:
    """``render`` with the channel's own file extension."""
    return render(event, channel, CHANNELS[channel], language, context, templates_dir)
