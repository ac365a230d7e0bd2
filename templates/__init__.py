"""Notification templates (data, not code): ``<lang>/<event>.<channel>.<ext>.j2``, with the phrases that
carry incident data in ``<lang>/messages.yaml``; partials start with ``_``."""
