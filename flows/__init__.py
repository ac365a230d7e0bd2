"""Garrison's engine: models, store, intake API, the respond flow, notifications, runtime and CLI.

Imports run one way: ``flows`` uses ``actions`` and ``playbooks``; nothing there imports ``flows``.
"""

__version__ = "0.1.0"
