"""The web console served by ``jt808 serve`` at ``/`` (docs/console.md).

- :mod:`jt808.console.routes` — the page, its assets and the endpoints the pages use;
- :mod:`jt808.console.hub` — the live push channel (``GET /api/v1/events``, SSE) fed by the gateway's seams;
- :mod:`jt808.console.schema` — every message's JSON fields read from its ``@message`` declaration;
- ``static/`` — the bundle built from ``console/`` (npm, committed: ``pip install`` needs no npm).

What lives here: what the console's pages need beside the API. What never does: a store of its own (it
reads the gateway's storage and state, and hears the gateway through its listener seams), protocol knowledge
(message fields come from the declarations), or a way to send commands beside the API's.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["STATIC_DIR"]

#: the built console (index.html and assets/), shipped inside the package
STATIC_DIR = Path(__file__).parent / "static"
