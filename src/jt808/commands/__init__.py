"""CLI subcommands, one module each (imported lazily by :mod:`jt808.cli`): ``decode``, ``encode``,
``serve``, ``simulate``… and the human renderings of ``--pretty`` / ``--explain``.

What lives here: argument handling, output formatting and exit statuses. What never does: protocol
knowledge (meanings come from the message declarations and TLV rows) or server wiring (:mod:`jt808.node`).
"""
