"""A terminal that frames its messages the way the QuecPython JT/T 808 client does (QuecPython/jtt808,
``code/jt_message.py``, read for its behaviour; the seeds 000/001 document its API). Written here from
that description, not copied:

- the message is built as a hex string; every field is left-padded with "0" to its width (so the
  0x0100 strings and the plate are NUL-padded on the left, the plate to the terminal-id width);
- the body length is OR-ed into the properties word unmasked: a body of 1024 bytes or more sets the
  encryption / sub-package bits (no sub-packaging is done, a 3 KB 0x0801 goes out in one frame);
- the check code is ``hex(xor)[2:]``: one hex digit when the XOR is below 0x10 (zero included: "0");
  the byte-pair loop that converts the hex string back to bytes then drops that last odd nibble, so the
  frame ends right after its body (with a zero XOR its last byte then reads as a valid check code);
- 2019: bit 14 set, protocol version 1, 20-digit phone; 2011/2013: 12-digit phone, no version byte;
  0x0100 field widths 5/8/7 (2011), 5/20/7 (2013), 11/30/30 (2019).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Any

import jt808
from jt808.protocol.framing import unescape
from jt808.protocol.header import Version


def fill(text: str, width: int) -> str:
    """QuecPython's ``str_fill``: left-pad with '0' to ``width`` characters."""
    return text.rjust(width, "0")


def hexstr(text: str) -> str:
    return text.encode("gbk").hex()


class QuecFramer:
    """Build frames as the QuecPython client does, for one phone and version."""

    def __init__(self, phone: str, version: int) -> None:
        self.version = version
        self.phone = fill(phone, 20 if version == 2019 else 12)
        self.sn = 0
        self.lost = 0  # frames sent without their check code (XOR 1..F, body under 1024 bytes)
        self.zero = 0  # the same with a zero XOR: the frame's last byte reads as its check code

    def frame(self, msg_id: int, body_hex: str) -> bytes:
        props = 0x4000 if self.version == 2019 else 0
        props = props ^ (props & 0x3FF) | (len(body_hex) // 2)  # the unmasked OR
        header = fill(f"{msg_id:x}", 4) + fill(f"{props:x}", 4)
        if self.version == 2019:
            header += "01"
        header += self.phone + fill(f"{self.sn:x}", 4)
        self.sn = (self.sn + 1) & 0xFFFF
        message = header + body_hex
        data = bytes.fromhex(message)
        x = 0
        for b in data:
            x ^= b
        message += f"{x:x}"  # one hex digit when below 0x10
        if x < 0x10 and len(body_hex) < 2048:
            if x:
                self.lost += 1
            else:
                self.zero += 1
        pairs = [message[i * 2:i * 2 + 2] for i in range(len(message) // 2)]  # drops an odd last nibble
        out = bytearray(b"\x7e")
        for p in pairs:
            if p == "7d":
                out += b"\x7d\x01"
            elif p == "7e":
                out += b"\x7d\x02"
            else:
                out.append(int(p, 16))
        out.append(0x7E)
        return bytes(out)

    # -- bodies, laid out as the client lays them out -------------------------------------------
    def register(self, plate: str = "粤B12345", color: int = 1) -> bytes:
        widths = {2011: (5, 8, 7), 2013: (5, 20, 7), 2019: (11, 30, 30)}[self.version]
        maker, model, dev = "QUEC", "EC200U", "T000001"
        body = (fill("2c", 4) + fill("12f", 4) + fill(hexstr(maker), widths[0] * 2)
                + fill(hexstr(model), widths[1] * 2) + fill(hexstr(dev), widths[2] * 2)
                + fill(f"{color:x}", 2) + fill(hexstr(plate), widths[2] * 2))
        return self.frame(0x0100, body)

    def auth(self, code: str, imei: str = "860000000000001", sw: str = "V1.0.0") -> bytes:
        if self.version == 2019:
            c = hexstr(code)
            body = fill(f"{len(c) // 2:x}", 2) + c + fill(hexstr(imei), 30) + fill(hexstr(sw), 40)
        else:
            body = hexstr(code)
        return self.frame(0x0102, body)

    def heartbeat(self) -> bytes:
        return self.frame(0x0002, "")

    def location_body(self, lat: float = 22.5, lon: float = 114.0) -> str:
        return ("00000000" + "00000002" + fill(f"{int(lat * 1e6):x}", 8) + fill(f"{int(lon * 1e6):x}", 8)
                + "0010" + "0064" + "005a" + "240101120000")

    def location(self) -> bytes:
        return self.frame(0x0200, self.location_body() + "01040000007b")

    def batch(self, n: int = 3) -> bytes:
        item = self.location_body()
        body = fill(f"{n:x}", 4) + "00" + "".join(fill(f"{len(item) // 2:x}", 4) + item for _ in range(n))
        return self.frame(0x0704, body)

    def media(self, media_id: int, size: int = 3000) -> bytes:
        data = bytes((i * 7 + 3) & 0xFF for i in range(size)).hex()
        body = fill(f"{media_id:x}", 8) + "00" + "00" + "01" + "01" + self.location_body() + data
        return self.frame(0x0801, body)

    def general_reply(self, seq: int, msg_id: int, result: int = 0) -> bytes:
        return self.frame(0x0001, fill(f"{seq:x}", 4) + fill(f"{msg_id:x}", 4) + fill(f"{result:x}", 2))

    def reply(self, msg_id: int, body_hex: str) -> bytes:
        return self.frame(msg_id, body_hex)


class QuecTerminal:
    """The framer over a real socket (TCP stream or UDP datagrams), with a reply reader."""

    def __init__(self, phone: str, version: int, *, udp: bool = False) -> None:
        self.framer = QuecFramer(phone, version)
        self.udp = udp
        self.version = Version.parse(version)
        self._splitter = jt808.FrameSplitter()
        self._frames: list[bytes] = []
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.sock: socket.socket | None = None

    async def connect(self, port: int) -> QuecTerminal:
        if self.udp:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.sock.connect(("127.0.0.1", port))
            self.sock.setblocking(False)
        else:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", port)
        return self

    async def send(self, frame: bytes) -> None:
        if self.sock is not None:
            await asyncio.get_running_loop().sock_sendall(self.sock, frame)
        else:
            assert self.writer is not None
            self.writer.write(frame)
            await self.writer.drain()

    async def recv(self, timeout: float = 10.0) -> jt808.Packet:
        while not self._frames:
            if self.sock is not None:
                data = await asyncio.wait_for(asyncio.get_running_loop().sock_recv(self.sock, 65536), timeout)
            else:
                assert self.reader is not None
                data = await asyncio.wait_for(self.reader.read(65536), timeout)
                if not data:
                    raise ConnectionError("closed by the platform")
            self._frames += self._splitter.feed(data)
        return jt808.decode(self._frames.pop(0))

    async def request(self, frame: bytes, timeout: float = 10.0) -> jt808.Packet:
        await self.send(frame)
        return await self.recv(timeout)

    async def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await self.writer.wait_closed()


def zero_xor_code(phone: str, version: int, sn: int = 1, nth: int = 0) -> str:
    """The ``nth`` auth code of the gateway's form (16 hex digits) whose 0x0102 with serial ``sn`` XORs to
    zero, so that the client sends it without a check code (its "0" lost) and the frame's last byte, the
    code's last character, reads as a valid check code. None exists for some phones and versions."""
    for i in range(1 << 16):
        code = f"{i:016x}"
        q = QuecFramer(phone, version)
        q.sn = sn
        q.auth(code)
        if q.zero:
            if not nth:
                return code
            nth -= 1
    raise AssertionError(f"no 16-hex-digit code XORs to zero for {phone} v{version} serial {sn}")


def sent_serial(frame: bytes) -> int:
    content = unescape(frame[1:-1])
    off = 15 if content[2] & 0x40 else 10
    return content[off] << 8 | content[off + 1]


__all__: list[Any] = ["QuecFramer", "QuecTerminal", "fill", "sent_serial", "zero_xor_code"]
