"""``python -m flows.runtime.serve``: the runner process of ``garrison up``."""

from flows.runtime._runner import serve_deployments

if __name__ == "__main__":
    serve_deployments()
