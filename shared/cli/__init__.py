"""The `t2b` command, assembled in shared.cli.app.

Kept free of imports so that command modules can import shared.cli.errors and shared.cli.console
without a cycle through the app that registers them.
"""


def main() -> None:
    from shared.cli.app import main as run_main

    run_main()
