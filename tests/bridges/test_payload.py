"""The bridge renders EMQX JSON with orjson: pinned to the standard library's rendering (the text
``json.dumps(..., ensure_ascii=False, separators=(",", ":"))`` gives) for random messages of every type
and version the codec knows (the strategies of tests/protocol/test_properties.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jt808 import Header, Packet, Version
from jt808.bridges.mqtt import _dumps
from jt808.protocol.exchange import to_json
from jt808.protocol.spec import Body
from protocol.test_properties import FAST, PAIR_IDS, PAIRS, profile_of, strategy_for


@pytest.mark.parametrize(("msg_id", "version", "cls"), PAIRS, ids=PAIR_IDS)
@FAST
@given(data=st.data())
def test_payload_is_the_standard_json_text(msg_id: int, version: Version, cls: type[Body], data: st.DataObject) -> None:
    body = data.draw(strategy_for(cls, version), label=cls.__name__)
    packet = Packet(Header(msg_id, "013912345678", 7, version), body)
    obj = to_json(packet, profile_of(version, msg_id))
    assert _dumps(obj) == json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()
