"""Where notifications may go: the apprise URL schemes Garrison accepts and the channel each implies, the
checks that keep a target off internal hosts, and the local ``outbox://`` sink.

Its own package so that both the tenants file (which checks targets when it loads) and ``flows.notify``
(which checks them again before every send) use it without importing each other.
"""

from ._urls import SCHEME_CHANNELS, Channel, NotifyUrlError, channel_for, check_url, for_sending, scheme_of

__all__ = [
    "SCHEME_CHANNELS",
    "Channel",
    "NotifyUrlError",
    "channel_for",
    "check_url",
    "for_sending",
    "scheme_of",
]
