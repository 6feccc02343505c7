"""``python -m mmdemo <command> [options]``: dispatch to ``mmdemo.cli.<command>.main``."""

from __future__ import annotations

import importlib
import logging
import sys

from mmdemo.cli import COMMANDS
from mmdemo.errors import MmdemoError


def _usage() -> str:
    lines = ["usage: python -m mmdemo <command> [options]", "", "commands:"]
    lines += [f"  {name:<10} {help_text}" for name, help_text in COMMANDS.items()]
    lines += ["", "Run `python -m mmdemo <command> --help` for a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"Unknown command {command!r}; valid commands: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    module = importlib.import_module(f"mmdemo.cli.{command}")
    try:
        return int(module.main(rest) or 0)
    except MmdemoError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
