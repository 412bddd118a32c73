"""Subcommands of the ``deid`` CLI, one module each (see deid/cli.py)."""
