"""``python -m flows.runtime.console``: the Prefect server and UI process of ``garrison up``."""

from flows.runtime._console import serve_console

if __name__ == "__main__":
    serve_console()
