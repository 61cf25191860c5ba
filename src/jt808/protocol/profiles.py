"""The device profiles that ship with jt808, by name (``[session] profile`` in the gateway config).

- ``default``: the standard (plus the JT/T 1078 signalling and the SuBiao attachment messages, which no
  standard id collides with);
- ``jt1078``: JT/T 1078 terminals — the location items 0x14–0x18 and the parameters 0x0075–0x007C (vendors
  squat those ids, so the standard table leaves them raw);
- ``subiao``: SuBiao (JSATL12) active-safety terminals — ``jt1078`` plus the alarm items 0x64–0x67, the
  parameters 0xF364–0xF367 and the 0x0900/0x8900 peripheral types 0xF7/0xF8;
- ``yuebiao``: YueBiao (Guangdong) terminals — the same plus the 30/40-byte layouts of 0x1210 and 0x9208.
"""

from __future__ import annotations

from jt808.protocol.messages.jt1078 import JT1078
from jt808.protocol.messages.subiao import SUBIAO
from jt808.protocol.messages.yuebiao import YUEBIAO
from jt808.protocol.registry import DEFAULT_PROFILE, Profile

__all__ = ["BUILTIN_PROFILES", "builtin_profile"]

BUILTIN_PROFILES: dict[str, Profile] = {"default": DEFAULT_PROFILE, "jt1078": JT1078, "subiao": SUBIAO,
                                        "yuebiao": YUEBIAO}


def builtin_profile(name: str) -> Profile:
    """The profile called ``name``; ``KeyError`` names the choices."""
    try:
        return BUILTIN_PROFILES[name]
    except KeyError:
        raise KeyError(f"unknown profile {name!r} (choices: {', '.join(BUILTIN_PROFILES)})") from None
