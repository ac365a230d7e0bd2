"""Alembic's commands on Garrison's store (GARRISON_DATABASE_URL, else the home's SQLite file)::

python -m flows.store.migrations current | history | upgrade head | revision --autogenerate --rev-id 0002 -m …
"""

from __future__ import annotations

import logging
import sys

from alembic.config import CommandLine

from flows.settings import get_settings
from flows.store.migrations import alembic_config


def main(argv: list[str] | None = None) -> None:
    cli = CommandLine(prog="python -m flows.store.migrations")
    options = cli.parser.parse_args(argv)
    if not hasattr(options, "cmd"):
        cli.parser.error("name a command: current, history, upgrade head, revision …")
    # What alembic.ini's logging section would say: each revision as it runs.
    logging.basicConfig(format="%(levelname)-5.5s [%(name)s] %(message)s")
    logging.getLogger("alembic").setLevel(logging.INFO)
    config = alembic_config(url=get_settings().database_url)
    config.cmd_opts = options
    cli.run_cmd(config, options)


if __name__ == "__main__":
    main(sys.argv[1:])
