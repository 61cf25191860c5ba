"""CLI subcommands, one module each (imported lazily by :mod:`jt808.cli`)."""
