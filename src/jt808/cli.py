"""The ``jt808`` command line: ``serve``, ``decode``, ``encode``, ``simulate`` …

Each subcommand lives in its own module under :mod:`jt808.commands` and is imported only when it
runs, so ``jt808 decode`` does not pay for the server's imports.
"""

from __future__ import annotations

import importlib
from typing import Any

import click

#: subcommand name -> (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "serve": ("jt808.commands.serve", "command", "Run the platform gateway (TCP/UDP, storage, HTTP API, MQTT)."),
    "decode": ("jt808.commands.decode", "decode_command", "Decode hex frames to seed-004 JSON, one per line."),
    "encode": ("jt808.commands.decode", "encode_command", "Encode seed-004 JSON to hex frames."),
    "simulate": ("jt808.commands.simulate", "command", "Run a fleet of virtual terminals against a server."),
    "terminal": ("jt808.commands.terminal", "group", "Operator actions on one terminal (reset its registration)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in COMMANDS:
            module, attr, _ = COMMANDS[name]
            try:
                cmd: Any = getattr(importlib.import_module(module), attr)
            except ModuleNotFoundError as e:
                if e.name and e.name.startswith("jt808"):
                    raise click.ClickException(f"'{name}' is not available in this build ({e})") from None
                raise
            return cmd
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in sorted(COMMANDS)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="jt808")
def main() -> None:
    """jt808 — JT/T 808 (2011/2013/2019) codec, gateway, terminal simulator."""


if __name__ == "__main__":
    main()
