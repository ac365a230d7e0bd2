"""Render notifications from our own template files, in a sandbox, with every IOC defanged.

Alert data only ever reaches templates as values: a hostname of ``{{7*7}}`` is printed as those seven
characters. Templates come from ``templates/<event>.<channel>.<ext>.j2`` and nowhere else: one template per
event and channel for every language. Their text comes from the language's catalog through ``t``::

    {{ t("letter.greeting", customer=tenant.name) }}     →  Dear Demo Customer Ltd.,  /  Demo 御中

Each channel has its own environment whose ``finalize`` escapes every ``{{ value }}`` for that channel
(HTML by autoescape, Markdown and Slack by their own escapers), so a template cannot forget to escape.
Catalog text is ours, but it is data as well: ``t`` escapes the phrase for the channel, fills in its
``{placeholders}`` with escaped values and marks the result as escaped; it is never template source.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment
from markupsafe import Markup, escape

from flows.models import defang, defang_text

from ._i18n import TEMPLATES_DIR, catalog, resolve_language

# The catalog section templates read: t("colon") is the phrase template.colon.
TEMPLATE_PHRASES = "template."
MAX_OUTPUT_CHARS = 64_000
# A Slack section block holds at most 3000 characters; longer reports go by email or as the artifact.
MAX_CHARS = {"slack": 2_900}
# channel → file extension of its templates
CHANNELS: dict[str, str] = {"text": "txt", "markdown": "md", "html": "html", "slack": "txt"}


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


class Escaped(str):
    """Text already escaped for its Markdown, Slack or plain-text channel (HTML uses ``Markup``)."""


def _phrase_text(channel: str, text: str) -> str:
    # A phrase's own text keeps its line breaks (a paragraph may be wrapped by hand); values never do.
    if channel == "html":
        return html.escape(text, quote=False).replace('"', "&#34;")  # ' is harmless: attributes use "
    if channel == "markdown":
        return _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    if channel == "slack":
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return text


def _value_text(channel: str, value: object) -> str:
    if isinstance(value, Escaped | Markup):  # a phrase inside a phrase: escaped already
        return value
    if channel == "html":
        return str(escape(value))
    return {"markdown": escape_markdown, "slack": escape_slack}.get(channel, str)(value)


class Phrases:
    """What templates call ``t``: the ``template:`` phrases of one language's catalog, escaped for one
    channel. ``t(key, **values)`` fills the phrase's ``{placeholders}`` with ``values`` escaped like any
    ``{{ value }}``, and returns text that the channel's escaping lets through unchanged.

    >>> Phrases("ja", "text")("letter.greeting", customer="Demo")
    'Demo 御中'
    """

    def __init__(self, language: str, channel: str, templates_dir: Path = TEMPLATES_DIR) -> None:
        self._language, self._channel, self._templates_dir = language, channel, templates_dir

    def __call__(self, key: str, /, **values: object) -> str:
        phrase = catalog(self._language, self._templates_dir).raw(TEMPLATE_PHRASES + key)
        filled = _phrase_text(self._channel, phrase).format_map(
            {name: _value_text(self._channel, value) for name, value in values.items()}
        )
        return Markup(filled) if self._channel == "html" else Escaped(filled)


def _environment(directory: Path, channel: str) -> ImmutableSandboxedEnvironment:
    escaper = {"markdown": escape_markdown, "slack": escape_slack}.get(channel)

    def finalize(value: object) -> object:  # Markdown and Slack: every value but our escaped phrases
        return value if isinstance(value, Escaped) or escaper is None else escaper(value)

    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(directory),
        undefined=StrictUndefined,
        autoescape=channel == "html",
        finalize=finalize if escaper else None,
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
    """Render ``<event>.<channel>.<ext>.j2`` in ``language`` (English, with a warning, when it has no
    catalog). The first line of the output is the subject; the rest is the body.
    """
    key = (templates_dir, channel)
    env = _ENVIRONMENTS.get(key) or _ENVIRONMENTS.setdefault(key, _environment(templates_dir, channel))
    name = f"{event}.{channel}.{ext}.j2"
    template = env.get_template(name)
    used = resolve_language(language, templates_dir)
    if "t" in context:
        raise ValueError("the context may not name a value 't': templates read their phrases through it")
    output = template.render({**context, "t": Phrases(used, channel, templates_dir)})
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
        template=name,
        channel=channel,
    )


def render_channel(
    event: str, channel: str, language: str, context: dict[str, Any], templates_dir: Path = TEMPLATES_DIR
) -> Rendered:
    """``render`` with the channel's own file extension."""
    return render(event, channel, CHANNELS[channel], language, context, templates_dir)
