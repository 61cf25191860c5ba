"""Message bodies of the standard, by family. Importing this package registers them all.

Each family module declares its bodies with :func:`jt808.protocol.spec.message`; the list below is
explicit so that registration never depends on which module someone happened to import first.
"""

from __future__ import annotations

from jt808.protocol.messages import general, location

__all__ = ["general", "location"]
