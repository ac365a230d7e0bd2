"""``python -m flows.runtime.serve [up|worker]``: the runner process of ``garrison up`` or ``worker``."""

import sys

from flows.runtime._runner import serve_deployments

if __name__ == "__main__":
    serve_deployments(sys.argv[1] if len(sys.argv) > 1 else "up")
