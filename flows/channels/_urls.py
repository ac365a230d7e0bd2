"""Which apprise URLs we send to, in which channel format, and how we refuse the dangerous ones.

Notification URLs come from configuration (the tenants file, environment variables), never from alert
data. They are still checked twice, when the configuration loads and right before each send: apprise
must accept the URL, its scheme must be on our list (no local programs, files, or the apprise API's
attachment fetches), no option may make apprise read a local file, and unless the target is marked
``allow_internal`` its host may not be loopback, link-local, private or otherwise internal (SSRF).
Error messages never contain the URL: it may hold a token.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Literal

import apprise
from apprise.utils.parse import parse_url

from . import _outbox  # noqa: F401 - registers outbox:// before any URL is checked

Channel = Literal["text", "markdown", "html", "slack"]

# scheme → the channel its messages are written in. Anything not listed is refused.
SCHEME_CHANNELS: dict[str, Channel] = {
    "outbox": "text",  # our local sink
    "slack": "slack",
    **dict.fromkeys(
        ("mailto", "mailtos", "ses", "sendgrid", "mailgun", "sparkpost", "postmark", "resend", "brevo")
        + ("smtp2go", "azure", "o365", "mailersend"),
        "html",
    ),
    # Microsoft Teams (Power Automate workflows) and chat systems that render Markdown.
    **dict.fromkeys(
        ("workflow", "workflows", "discord", "mmost", "mmosts", "rocket", "rockets", "matrix", "matrixs")
        + ("gchat", "wxteams", "webex", "zulip", "tgram", "lark", "feishu", "dingtalk", "wecombot"),
        "markdown",
    ),
    # Generic webhooks, paging and push services: plain text is what their consumers expect.
    **dict.fromkeys(
        ("json", "jsons", "form", "forms", "xml", "xmls", "ntfy", "ntfys", "gotify", "gotifys", "pover")
        + ("line", "pagerduty", "opsgenie", "signl4", "pagertree", "splunk", "victorops"),
        "text",
    ),
}
_EMAIL = {scheme for scheme, channel in SCHEME_CHANNELS.items() if channel == "html"}
# Schemes whose URL host is the server apprise connects to (elsewhere the "host" is a token: never
# resolve it, that would leak the token to DNS).
_HOST_IS_SERVER = {
    "json", "jsons", "form", "forms", "xml", "xmls", "ntfy", "ntfys", "gotify", "gotifys",
    "mmost", "mmosts", "rocket", "rockets", "matrix", "matrixs", "mailto", "mailtos", "workflow", "workflows",
}  # fmt: skip
# URL options that make apprise read a local file (Slack/Discord/Teams JSON templates, key files).
_FILE_OPTIONS = {"template", "keyfile", "attach", "attachment", "cert", "key"}
# Appended to every URL we send to: one retry layer (ours), and Slack in Block Kit mode, which passes
# our escaped mrkdwn through untouched, with no remote footer icon to fetch.
_SEND_OPTIONS = {"retry": "0"}
_SCHEME_OPTIONS = {"slack": {"blocks": "yes", "footer": "no", "image": "no"}}


class NotifyUrlError(ValueError):
    """A notification URL we will not send to; the message never contains the URL."""


def scheme_of(url: str) -> str:
    return url.split("://", 1)[0].lower() if "://" in url else ""


def channel_for(url: str, override: Channel | None = None) -> Channel:
    """The channel a target's messages are written in: its explicit ``channel``, else by URL scheme.

    >>> channel_for("slack://T1/B1/x"), channel_for("mailtos://u:p@example.com"), channel_for("json://h")
    ('slack', 'html', 'text')
    """
    scheme = scheme_of(url)
    if override is not None:
        _check_override(scheme, override)
        return override
    return SCHEME_CHANNELS.get(scheme, "text")


def _check_override(scheme: str, channel: Channel) -> None:
    # HTML is for mail clients; Slack's mrkdwn only for Slack. Elsewhere apprise would convert them
    # and the conversion could turn escaped text back into markup.
    if channel == "html" and scheme not in _EMAIL:
        raise NotifyUrlError(f"channel 'html' is only for e-mail targets, not {scheme}://")
    if channel == "slack" and scheme != "slack":
        raise NotifyUrlError(f"channel 'slack' is only for slack:// targets, not {scheme}://")


def check_url(
    url: str, *, allow_internal: bool = False, require_apprise: bool = True, resolve: bool = True
) -> None:
    """Refuse a URL we must not send to (see the module docstring).

    At send time everything is checked, DNS answers for the host included. When the configuration
    loads, names are not resolved (loading must not depend on the network), and a URL held in a
    variable is held to our own rules only: the variable may be set or rotated later.
    """
    scheme = scheme_of(url)
    if scheme not in SCHEME_CHANNELS:
        raise NotifyUrlError(f"scheme {scheme or '(none)'}:// is not allowed for notifications")
    plugin = apprise.Apprise.instantiate(url)
    if plugin is None and require_apprise:
        raise NotifyUrlError(f"apprise does not accept this {scheme}:// URL")
    parsed = parse_url(url, verify_host=False) or {}
    options = {str(key).lower() for key in (parsed.get("qsd") or {})}
    if options & _FILE_OPTIONS:
        raise NotifyUrlError(
            f"option {sorted(options & _FILE_OPTIONS)[0]}= is not allowed (reads local files)"
        )
    if allow_internal or scheme not in _HOST_IS_SERVER:
        return
    # The host apprise will connect to, and the host as written: a parser may read them differently.
    candidates = (getattr(plugin, "host", None), getattr(plugin, "smtp_host", None), parsed.get("host"))
    hosts = [h for h in candidates if h]
    for host in hosts:
        if is_internal_host(str(host)) or (resolve and _resolves_internal(str(host))):
            raise NotifyUrlError(
                f"the {scheme}:// host is internal (loopback, private or link-local); "
                "set allow_internal on the target if that is intended"
            )


def for_sending(url: str) -> str:
    """The URL with our delivery options appended (later values win in apprise's parser)."""
    options = {**_SEND_OPTIONS, **_SCHEME_OPTIONS.get(scheme_of(url), {})}
    if scheme_of(url) == "outbox":
        return url
    extra = "&".join(f"{key}={value}" for key, value in options.items())
    return f"{url}{'&' if '?' in url else '?'}{extra}"


_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


def is_internal_host(host: str) -> bool:
    """Whether ``host`` names a non-public address, in any spelling the socket layer accepts.

    >>> [is_internal_host(h) for h in ("169.254.169.254", "0x7f000001", "[::ffff:127.0.0.1]", "8.8.8.8")]
    [True, True, True, False]
    """
    name = host.strip().strip("[]").lower().rstrip(".")
    if name in _LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        address: ipaddress.IPv4Address | ipaddress.IPv6Address = ipaddress.ip_address(name)
    except ValueError:
        try:  # legacy IPv4 spellings: 0x7f000001, 2130706433, 0177.0.0.1, 127.1
            address = ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return False  # a DNS name: checked by resolving it at send time
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # is_global alone misses some (Python calls ::ffff:127 global, though it is reserved space).
    return not address.is_global or address.is_multicast or address.is_reserved or address.is_private


def _resolves_internal(host: str) -> bool:
    try:
        answers = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False  # unresolvable: apprise cannot connect either, and the send fails on its own
    return any(is_internal_host(str(answer[4][0])) for answer in answers)
