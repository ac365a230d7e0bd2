"""The respond flow and its steps."""

from ._flow import RespondRequest, respond

__all__ = ["RespondRequest", "respond"]
