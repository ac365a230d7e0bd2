"""``python -m flows.cli``: the same as the ``garrison`` command."""

from flows.cli import main

main()
