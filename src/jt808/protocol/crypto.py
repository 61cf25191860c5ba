"""RSA body encryption (body-properties bit 10), keys exchanged with 0x8A00 / 0x0A00.

The standard says only that bit 10 marks an RSA-encrypted body and that each side publishes its key
as ``e`` (DWORD) + ``n`` (BYTE[128], a 1024-bit modulus). No source defines how a body longer than one
RSA block is cut, nor the padding (QuecPython encrypts 100-byte chunks; EMQX leaves a TODO; SmallChi
does not implement it). jt808 uses, unless told otherwise:

- **scheme**: PKCS#1 v1.5 encryption padding (RFC 8017 §7.2), the only RSA padding common to every
  embedded TLS/crypto library;
- **blocks**: the plaintext is cut into chunks of at most ``k - 11`` bytes (``k`` = modulus size in bytes:
  117 for a 1024-bit key); each chunk becomes one ``k``-byte cipher block (128 bytes); the encrypted body
  is the concatenation of the cipher blocks, so its length is a multiple of ``k``. An empty body stays
  empty.
- The encrypted body is what the length field counts, what the check code covers and what is
  sub-packaged (encrypt first, then split; reassemble first, then decrypt).

Both knobs are parameters: ``padding`` (``"pkcs1v15"`` or ``"oaep"`` = OAEP with SHA-1/MGF1-SHA-1, whose
chunk is at most ``k - 42``) and ``block`` (a smaller plaintext chunk, e.g. 100 for devices that use
QuecPython's chunking). A profile key can carry its scheme: ``profile.rsa_peer_public_key =
bind(key, block=100)``.

Keys are ``cryptography`` objects; that package is imported lazily, here only, so the protocol core
imports without it. Every failure raises :class:`jt808.errors.CryptoError`.
"""

from __future__ import annotations

from typing import Any

from jt808.errors import CryptoError

__all__ = [
    "PADDINGS",
    "BoundKey",
    "bind",
    "generate_private_key",
    "load_private_key_pem",
    "max_chunk",
    "private_key_to_pem",
    "public_key_from_en",
    "public_key_from_message",
    "public_key_to_en",
    "rsa_decrypt",
    "rsa_encrypt",
]

PADDINGS = ("pkcs1v15", "oaep")
_OVERHEAD = {"pkcs1v15": 11, "oaep": 42}


def _backend() -> Any:
    try:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError as e:  # pragma: no cover - cryptography is a declared dependency
        raise CryptoError("RSA body encryption needs the 'cryptography' package") from e
    return hashes, serialization, padding, rsa


class BoundKey:
    """A key with its block scheme attached, usable wherever a key is expected (profile settings)."""

    __slots__ = ("block", "key", "padding")

    def __init__(self, key: Any, padding: str = "pkcs1v15", block: int | None = None) -> None:
        if isinstance(key, BoundKey):
            key = key.key
        self.key: Any
        if padding not in PADDINGS:
            raise CryptoError(f"unknown RSA padding {padding!r} (use one of {', '.join(PADDINGS)})")
        self.key, self.padding, self.block = key, padding, block

    def __repr__(self) -> str:
        return f"BoundKey({_bits(self.key)}-bit, {self.padding}, block={self.block})"


def bind(key: Any, padding: str = "pkcs1v15", block: int | None = None) -> BoundKey:
    """Attach a padding and plaintext block size to ``key`` (see the module docstring)."""
    return BoundKey(key, padding, block)


def _bits(key: Any) -> int:
    try:
        return int(key.key_size)
    except AttributeError:
        raise CryptoError(f"not an RSA key: {type(key).__name__}") from None


def _resolve(key: Any, padding: str | None, block: int | None) -> tuple[Any, str, int | None]:
    if key is None:
        raise CryptoError("no RSA key configured")
    if isinstance(key, BoundKey):
        return key.key, padding or key.padding, block if block is not None else key.block
    return key, padding or "pkcs1v15", block


def max_chunk(key: Any, padding: str = "pkcs1v15") -> int:
    """Largest plaintext chunk one cipher block holds: ``k - 11`` (PKCS#1 v1.5) or ``k - 42`` (OAEP-SHA-1)."""
    if padding not in _OVERHEAD:
        raise CryptoError(f"unknown RSA padding {padding!r} (use one of {', '.join(PADDINGS)})")
    return (_bits(key) + 7) // 8 - _OVERHEAD[padding]


def _pad(padding: str) -> Any:
    hashes, _, pad, _ = _backend()
    if padding == "pkcs1v15":
        return pad.PKCS1v15()
    if padding == "oaep":
        return pad.OAEP(mgf=pad.MGF1(algorithm=hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    raise CryptoError(f"unknown RSA padding {padding!r} (use one of {', '.join(PADDINGS)})")


def rsa_encrypt(public_key: Any, data: bytes, *, padding: str | None = None, block: int | None = None) -> bytes:
    """Encrypt a message body with the peer's public key: ``block``-byte plaintext chunks (default the
    maximum for ``padding``), each turned into one modulus-sized cipher block."""
    key, padding, block = _resolve(public_key, padding, block)
    limit = max_chunk(key, padding)
    chunk = limit if block is None else block
    if not 1 <= chunk <= limit:
        raise CryptoError(f"plaintext block of {chunk} bytes does not fit a {_bits(key)}-bit key with {padding} "
                          f"(1..{limit})")
    pad = _pad(padding)
    try:
        enc = key.public_key().encrypt if hasattr(key, "private_numbers") else key.encrypt
        return b"".join(enc(bytes(data[i:i + chunk]), pad) for i in range(0, len(data), chunk))
    except (AttributeError, TypeError, ValueError) as e:
        raise CryptoError(f"RSA encryption failed: {e}") from None


def rsa_decrypt(private_key: Any, data: bytes, *, padding: str | None = None, block: int | None = None) -> bytes:
    """Decrypt an encrypted body with our private key (cipher blocks of the modulus size).

    ``block`` is accepted for symmetry (the plaintext chunk size is implied by the padding). A body that is
    not a whole number of cipher blocks, or a block that does not decrypt (wrong key), raises
    :class:`CryptoError`.
    """
    key, padding, _ = _resolve(private_key, padding, block)
    if not hasattr(key, "decrypt"):
        raise CryptoError(f"decryption needs an RSA private key, got {type(key).__name__}")
    k = (_bits(key) + 7) // 8
    if len(data) % k:
        raise CryptoError(f"encrypted body of {len(data)} bytes is not a multiple of the {k}-byte RSA block")
    if padding == "pkcs1v15":
        return _pkcs1v15_decrypt(key, data, k)
    pad = _pad(padding)
    out = bytearray()
    for i in range(0, len(data), k):
        try:
            out += key.decrypt(bytes(data[i:i + k]), pad)
        except (ValueError, TypeError) as e:
            raise CryptoError(f"RSA block {i // k + 1} of {len(data) // k} does not decrypt with this key "
                              f"({e or 'bad padding'})") from None
    return bytes(out)


def _pkcs1v15_decrypt(key: Any, data: bytes, k: int) -> bytes:
    # PKCS#1 v1.5 with an explicit padding check (RFC 8017 §7.2.2). OpenSSL 3.2+ answers a bad padding
    # with "implicit rejection" (random-looking plaintext), which would turn a wrong key into a garbage
    # body; the codec wants a CryptoError instead. RSA with the CRT parameters of the private key.
    try:
        priv = key.private_numbers()
    except AttributeError:
        raise CryptoError(f"decryption needs an RSA private key, got {type(key).__name__}") from None
    pub = priv.public_numbers
    n, p, q, dmp1, dmq1, iqmp = pub.n, priv.p, priv.q, priv.dmp1, priv.dmq1, priv.iqmp
    out = bytearray()
    blocks = len(data) // k
    for i in range(0, len(data), k):
        c = int.from_bytes(data[i:i + k], "big")
        bad = c >= n
        if not bad:
            m1, m2 = pow(c, dmp1, p), pow(c, dmq1, q)
            em = (m2 + (iqmp * (m1 - m2) % p) * q).to_bytes(k, "big")
            sep = em.find(b"\x00", 2)
            bad = em[0] != 0 or em[1] != 2 or sep < 10
        if bad:
            raise CryptoError(f"RSA block {i // k + 1} of {blocks} does not decrypt with this key "
                              "(PKCS#1 v1.5 padding invalid)")
        out += em[sep + 1:]
    return bytes(out)


# ---------------------------------------------------------------------------------------------
# Keys
# ---------------------------------------------------------------------------------------------
def generate_private_key(bits: int = 1024, e: int = 65537) -> Any:
    """A new RSA private key (1024 bits: the size 0x8A00/0x0A00 can carry)."""
    _, _, _, rsa = _backend()
    try:
        return rsa.generate_private_key(public_exponent=e, key_size=bits)
    except (ValueError, TypeError) as err:
        raise CryptoError(f"cannot generate an RSA key: {err}") from None


def public_key_from_en(e: int, n: bytes | int) -> Any:
    """The public key of a 0x8A00 / 0x0A00 body: exponent ``e`` (DWORD) and modulus ``n`` (big-endian
    bytes, BYTE[128] on the wire, or an int)."""
    _, _, _, rsa = _backend()
    modulus = int.from_bytes(n, "big") if isinstance(n, bytes | bytearray | memoryview) else n
    if not isinstance(modulus, int) or modulus <= 0:
        raise CryptoError("RSA modulus n must be positive bytes or int")
    try:
        return rsa.RSAPublicNumbers(int(e), modulus).public_key()
    except (ValueError, TypeError) as err:
        raise CryptoError(f"invalid RSA public key (e={e}): {err}") from None


def public_key_from_message(body: Any) -> Any:
    """The public key carried by a decoded 0x8A00 / 0x0A00 body (anything with ``e`` and ``n``)."""
    try:
        return public_key_from_en(body.e, body.n)
    except AttributeError:
        raise CryptoError(f"{type(body).__name__} carries no RSA key (needs 'e' and 'n')") from None


def public_key_to_en(key: Any, size: int = 128) -> tuple[int, bytes]:
    """``(e, n)`` of a public or private key, ``n`` as ``size`` big-endian bytes (128 for 0x8A00/0x0A00)."""
    key = key.key if isinstance(key, BoundKey) else key
    try:
        pub = key.public_key() if hasattr(key, "private_numbers") else key
        nums = pub.public_numbers()
    except AttributeError:
        raise CryptoError(f"not an RSA key: {type(key).__name__}") from None
    try:
        return nums.e, nums.n.to_bytes(size, "big")
    except OverflowError:
        raise CryptoError(f"modulus of {pub.key_size} bits does not fit BYTE[{size}]") from None


def load_private_key_pem(data: bytes, password: bytes | None = None) -> Any:
    """A private key from PEM (PKCS#1 or PKCS#8)."""
    _, serialization, _, _ = _backend()
    try:
        return serialization.load_pem_private_key(data, password=password)
    except (ValueError, TypeError) as e:
        raise CryptoError(f"cannot load the RSA private key: {e}") from None


def private_key_to_pem(key: Any, password: bytes | None = None) -> bytes:
    """PKCS#8 PEM of a private key (encrypted with ``password`` when given)."""
    _, serialization, _, _ = _backend()
    key = key.key if isinstance(key, BoundKey) else key
    enc = (serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption())
    try:
        pem: bytes = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, enc)
        return pem
    except AttributeError:
        raise CryptoError(f"not an RSA private key: {type(key).__name__}") from None
