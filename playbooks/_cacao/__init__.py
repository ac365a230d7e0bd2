"""CACAO 2.0: a Garrison playbook as a CACAO playbook (JSON) and back, and foreign CACAO playbooks imported.

Export writes what CACAO says natively — steps in order from a start to an end step, a verdict condition as
an ``if-condition`` (on the ``__verdict__`` variable), containment as ``openc2-http`` commands where OpenC2
expresses the capability and ``manual`` commands otherwise, an escalation as a ``manual`` command for the
analyst, ``on_failure`` as the step's failure pointer, timeouts in milliseconds — and keeps what it cannot
(step kinds, capabilities, ``match`` …) in the Garrison extension, so a document exported here imports back
equal. Ids and timestamps derive from the playbook alone: exporting twice gives the same document.

Import validates against the vendored OASIS schemas (``playbooks/cacao/schemas``, offline), then walks the
workflow: ``start``/``end``, ``action``, ``if-condition`` on the verdict, ``parallel`` (its branches run one
after the other). Commands become capabilities (OpenC2 ``deny``/``contain``/… on a target kind Garrison
acts on, sent as ``openc2-http`` or as an ``http-api`` body) or escalations (``manual``: a person does it).
Anything else is refused, naming the step and the field.
"""

from ._export import export_cacao
from ._import import import_cacao
from ._schemas import validate_cacao

__all__ = ["export_cacao", "import_cacao", "validate_cacao"]
