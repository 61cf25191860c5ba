"""Just enough H.264 / H.265 bitstream reading to relay a camera's frames: NAL units of an Annex B
access unit, their types, whether a frame is a key frame and carries its parameter sets."""

from __future__ import annotations

__all__ = ["CODECS", "has_parameter_sets", "is_keyframe", "nal_types", "split_nals"]

#: JT/T 1078 payload type -> FFmpeg codec name
CODECS = {98: "h264", 99: "hevc"}

_H264_IDR, _H264_SPS, _H264_PPS = 5, 7, 8
_HEVC_VPS, _HEVC_SPS, _HEVC_PPS = 32, 33, 34
_HEVC_IRAP = range(16, 24)


def split_nals(data: bytes) -> list[bytes]:
    """The NAL units of an Annex B byte string (start codes 00 00 01 / 00 00 00 01 removed)."""
    out: list[bytes] = []
    n = len(data)
    i = data.find(b"\x00\x00\x01")
    while 0 <= i < n:
        start = i + 3
        j = data.find(b"\x00\x00\x01", start)
        end = n if j < 0 else j
        nal = data[start:end]
        if j >= 0 and nal.endswith(b"\x00"):
            nal = nal.rstrip(b"\x00")  # the leading zero of a 4-byte start code (and trailing zeros)
        if nal:
            out.append(nal)
        i = j
    return out


def nal_types(data: bytes, codec: str) -> list[int]:
    if codec == "hevc":
        return [(n[0] >> 1) & 0x3F for n in split_nals(data)]
    return [n[0] & 0x1F for n in split_nals(data)]


def is_keyframe(data: bytes, codec: str) -> bool:
    """An IDR picture (H.264) or an IRAP picture (H.265) is in the access unit."""
    types = nal_types(data, codec)
    if codec == "hevc":
        return any(t in _HEVC_IRAP for t in types)
    return _H264_IDR in types


def has_parameter_sets(data: bytes, codec: str) -> bool:
    """SPS and PPS (and VPS for H.265) are in the access unit: a decoder can start here."""
    types = set(nal_types(data, codec))
    if codec == "hevc":
        return {_HEVC_VPS, _HEVC_SPS, _HEVC_PPS} <= types
    return {_H264_SPS, _H264_PPS} <= types
