"""RSA body encryption (bit 10): block scheme, keys from/to 0x8A00/0x0A00, full frames, sub-packages."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

import jt808
from jt808 import V2013, V2019, Profile, RawBody, Reassembler, encode_many
from jt808.protocol import crypto
from jt808.protocol.messages.location import LocationBasic, LocationReport
from jt808.protocol.messages.media import MediaData
from jt808.protocol.messages.transport import PlatformRsaKey, TerminalRsaKey
from jt808.protocol.packet import decode_body, encode_body

PHONE = "013912345678"


@pytest.fixture(scope="module")
def platform_key():
    return crypto.generate_private_key()


@pytest.fixture(scope="module")
def terminal_key():
    return crypto.generate_private_key()


def profiles(platform_key, terminal_key) -> tuple[Profile, Profile]:
    """(terminal side, platform side) after the 0x8A00 / 0x0A00 exchange."""
    term = Profile("terminal")
    term.rsa_private_key = terminal_key
    term.rsa_peer_public_key = platform_key.public_key()
    plat = Profile("platform")
    plat.rsa_private_key = platform_key
    plat.rsa_peer_public_key = terminal_key.public_key()
    return term, plat


def test_block_scheme_pkcs1v15_117_to_128(platform_key) -> None:
    pub = platform_key.public_key()
    assert crypto.max_chunk(pub) == 117 and crypto.max_chunk(pub, "oaep") == 86
    for n, blocks in ((1, 1), (117, 1), (118, 2), (234, 2), (1000, 9)):
        data = bytes(i & 0xFF for i in range(n))
        enc = crypto.rsa_encrypt(pub, data)
        assert len(enc) == 128 * blocks
        assert crypto.rsa_decrypt(platform_key, enc) == data
    assert crypto.rsa_encrypt(pub, b"") == b"" and crypto.rsa_decrypt(platform_key, b"") == b""
    # randomized padding: two encryptions differ, both decrypt
    assert crypto.rsa_encrypt(pub, b"same") != crypto.rsa_encrypt(pub, b"same")


def test_block_size_and_padding_are_parameters(platform_key) -> None:
    pub = platform_key.public_key()
    data = bytes(range(250))
    enc = crypto.rsa_encrypt(pub, data, block=100)  # QuecPython-style 100-byte chunks
    assert len(enc) == 3 * 128
    assert crypto.rsa_decrypt(platform_key, enc) == data
    enc = crypto.rsa_encrypt(crypto.bind(pub, "oaep"), data)
    assert len(enc) == 3 * 128  # 86-byte chunks
    assert crypto.rsa_decrypt(crypto.bind(platform_key, "oaep"), enc) == data
    with pytest.raises(jt808.CryptoError):
        crypto.rsa_decrypt(platform_key, enc)  # OAEP blocks read as PKCS#1 v1.5
    with pytest.raises(jt808.CryptoError):
        crypto.rsa_encrypt(pub, data, block=118)
    with pytest.raises(jt808.CryptoError):
        crypto.rsa_encrypt(pub, data, padding="none")
    with pytest.raises(jt808.CryptoError):
        crypto.bind(pub, "rot13")


def test_errors_are_crypto_errors(platform_key, terminal_key) -> None:
    enc = crypto.rsa_encrypt(platform_key.public_key(), bytes(300))
    with pytest.raises(jt808.CryptoError) as ei:
        crypto.rsa_decrypt(terminal_key, enc)  # wrong key
    assert "does not decrypt" in str(ei.value)
    with pytest.raises(jt808.CryptoError):
        crypto.rsa_decrypt(platform_key, enc[:-1])  # not whole blocks
    with pytest.raises(jt808.CryptoError):
        crypto.rsa_decrypt(platform_key.public_key(), enc)  # a public key cannot decrypt
    with pytest.raises(jt808.CryptoError):
        crypto.rsa_encrypt(None, b"x")
    with pytest.raises(jt808.CryptoError):
        crypto.rsa_encrypt("not a key", b"x")
    assert issubclass(jt808.CryptoError, jt808.JT808Error)


def test_keys_to_and_from_0x8a00_0x0a00(platform_key, terminal_key) -> None:
    e, n = crypto.public_key_to_en(platform_key)
    assert e == 65537 and len(n) == 128 and n[0] & 0x80  # a full 1024-bit modulus
    assert crypto.public_key_to_en(platform_key.public_key()) == (e, n)
    body = PlatformRsaKey(e=e, n=n)
    frame = jt808.encode(jt808.build(body, PHONE, 1))
    got = jt808.decode(frame).body
    pub = crypto.public_key_from_message(got)
    assert crypto.rsa_decrypt(platform_key, crypto.rsa_encrypt(pub, b"hello")) == b"hello"
    e2, n2 = crypto.public_key_to_en(terminal_key)
    pub2 = crypto.public_key_from_en(e2, int.from_bytes(n2, "big"))
    assert crypto.public_key_to_en(pub2) == (e2, n2)
    assert isinstance(jt808.decode(jt808.encode(jt808.build(TerminalRsaKey(e=e2, n=n2), PHONE, 2))).body,
                      TerminalRsaKey)
    with pytest.raises(jt808.CryptoError):
        crypto.public_key_from_en(3, b"")
    with pytest.raises(jt808.CryptoError):
        crypto.public_key_from_message(LocationBasic())
    with pytest.raises(jt808.CryptoError):
        crypto.public_key_to_en(crypto.generate_private_key(2048))  # does not fit BYTE[128]


def test_pem_roundtrip(platform_key) -> None:
    pem = crypto.private_key_to_pem(platform_key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    k = crypto.load_private_key_pem(pem)
    assert crypto.public_key_to_en(k) == crypto.public_key_to_en(platform_key)
    enc = crypto.private_key_to_pem(platform_key, password=b"secret")
    assert crypto.public_key_to_en(crypto.load_private_key_pem(enc, b"secret")) == crypto.public_key_to_en(k)
    with pytest.raises(jt808.CryptoError):
        crypto.load_private_key_pem(b"not a pem")


@pytest.mark.parametrize("version", [V2013, V2019])
def test_full_frame_with_rsa_bit(platform_key, terminal_key, version) -> None:
    term, plat = profiles(platform_key, terminal_key)
    loc = LocationReport(alarm=1, status=2, latitude=30787690, longitude=120767073, altitude=10, speed=600,
                         direction=90, time="240301120000", extras=[(0x01, 1234), (0x30, 25)])
    phone = PHONE if version is V2013 else "00000000013912345678"
    pk = jt808.build(loc, phone, 5, version, encrypt=1)
    frame = jt808.encode(pk, term)
    plain = encode_body(loc, version)
    got = jt808.decode(frame, plat)
    assert got.header.encrypt == 1 and got.header.length == 128  # one 128-byte block on the wire
    assert got.body == loc and got.raw_body == plain and not got.problems
    # the bytes on the wire are not the plain body
    assert plain not in jt808.protocol.unescape(frame[1:-1])
    # a receiver without the key keeps the body raw (and says so)
    raw = jt808.decode(frame)
    assert isinstance(raw.body, RawBody) and raw.body.reason == "encrypted"
    assert any("no private key" in p for p in raw.problems)
    assert jt808.encode(raw) == frame  # raw bodies re-encode byte for byte, never re-encrypted
    # the wrong private key is a typed error, not a garbage body
    wrong = Profile("wrong")
    wrong.rsa_private_key = terminal_key
    with pytest.raises(jt808.CryptoError):
        jt808.decode(frame, wrong)
    # encrypting without the peer's key is refused
    with pytest.raises(jt808.EncodeError) as ei:
        jt808.encode(pk)
    assert ei.value.field == "encrypt"


def test_encrypted_and_subpackaged_long_body(platform_key, terminal_key) -> None:
    term, plat = profiles(platform_key, terminal_key)
    photo = bytes((i * 7 + 3) & 0xFF for i in range(3000))
    media = MediaData(id=11, type=0, format=0, event=1, channel=1, location=LocationBasic(time="240301120000"),
                      multimedia=photo)
    pk = jt808.build(media, PHONE, 0x0100, encrypt=1)
    frames = encode_many(pk, term)
    # 3036 plain bytes -> 26 blocks of 117 -> 3328 encrypted bytes -> 4 fragments, every one with bit 10
    assert len(frames) == 4
    packets = [jt808.decode(f, plat) for f in frames]
    assert all(p.header.encrypt == 1 and isinstance(p.body, RawBody) for p in packets)
    assert sum(p.header.length for p in packets) == 26 * 128
    r = Reassembler(plat)
    outs = [r.add(p, 0) for p in (packets[2], packets[0], packets[3], packets[1])]
    merged = outs[-1]
    assert outs[:-1] == [None, None, None]
    assert merged.body == media and merged.header.encrypt == 1 and merged.header.msg_sn == 0x0100
    assert merged.raw_body == encode_body(media, V2013)
    # without a key the merged body stays raw (encrypted); with the wrong key it is a CryptoError
    r = Reassembler()
    merged = [r.add(p, 0) for p in packets][-1]
    assert isinstance(merged.body, RawBody) and merged.body.reason == "encrypted" and len(merged.body.data) == 3328
    wrong = Profile("wrong")
    wrong.rsa_private_key = terminal_key
    r = Reassembler(wrong)
    for p in packets[:-1]:
        r.add(p, 0)
    with pytest.raises(jt808.CryptoError):
        r.add(packets[-1], 0)
    assert len(r) == 0
    # the decrypted body is what decode_body reads
    assert decode_body(0x0801, V2013, crypto.rsa_decrypt(platform_key, b"".join(
        p.body.data for p in packets)))[0] == media


def test_bound_key_in_profile_selects_the_scheme(platform_key, terminal_key) -> None:
    term, plat = profiles(platform_key, terminal_key)
    term.rsa_peer_public_key = crypto.bind(platform_key.public_key(), block=100)
    body = MediaData(id=1, location=LocationBasic(time="240301120000"), multimedia=bytes(200))
    frame = jt808.encode(jt808.build(body, PHONE, 1, encrypt=1), term)
    got = jt808.decode(frame, plat)
    assert got.header.length == 3 * 128  # 236 bytes in 100-byte chunks
    assert got.body == body


def test_protocol_core_imports_without_cryptography() -> None:
    code = textwrap.dedent("""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "cryptography" or name.startswith("cryptography."):
                    raise ImportError("blocked for this test")
                return None
        sys.meta_path.insert(0, Block())
        import jt808
        from jt808.protocol import crypto
        p = jt808.decode(bytes.fromhex("7e000200000857502162890001c67e"))
        assert p.msg_id == 2
        frames = jt808.encode_many(jt808.Packet(jt808.Header(0x0F10, "013912345678", 1), jt808.RawBody(bytes(3000))))
        assert len(frames) == 3
        assert "cryptography" not in sys.modules
        try:
            crypto.generate_private_key()
        except jt808.CryptoError as e:
            print("CryptoError", e)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "CryptoError" in out.stdout
