"""Notification templates (data, not code): ``<lang>/<event>.<channel>.<ext>.j2``."""
