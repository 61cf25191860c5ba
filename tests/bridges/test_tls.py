"""TLS and username/password: a second Mosquitto started by this test on a free loopback port with a
certificate signed by a throw-away CA and a password file (the shared broker on 1883 is not touched)."""

from __future__ import annotations

import asyncio
import datetime as dt
import getpass
import ipaddress
import json
import shutil
import socket
import ssl
import subprocess
from pathlib import Path

import aiomqtt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from jt808.protocol.messages.general import HeartBeat

from .helpers import Terminal, random_phone, until

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None,
          issuer_key: ec.EllipticCurvePrivateKey, ca: bool) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(issuer or name).public_key(key.public_key())
         .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
         .not_valid_after(now + dt.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    if not ca:
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                         x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                            critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption())


@pytest.fixture
async def tls_broker(tmp_path: Path):
    if not Path(MOSQUITTO).exists():
        pytest.fail("mosquitto is not installed (needed for the TLS test)")
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _cert("jt808 test CA", ca_key, None, ca_key, ca=True)
    srv_key = ec.generate_private_key(ec.SECP256R1())
    srv = _cert("localhost", srv_key, ca.subject, ca_key, ca=False)
    (tmp_path / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.pem").write_bytes(srv.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "server.key").write_bytes(_pem_key(srv_key))
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(tmp_path / "passwd"), "gw", "s3cret"], check=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "mosquitto.conf").write_text(
        f"user {getpass.getuser()}\n"  # run as root, mosquitto would switch to a user who cannot read tmp_path
        f"per_listener_settings false\npersistence false\nlog_dest stderr\nallow_anonymous false\n"
        f"password_file {tmp_path / 'passwd'}\n"
        f"listener {port} 127.0.0.1\ncafile {tmp_path / 'ca.pem'}\ncertfile {tmp_path / 'server.pem'}\n"
        f"keyfile {tmp_path / 'server.key'}\n")
    proc = subprocess.Popen([MOSQUITTO, "-c", str(tmp_path / "mosquitto.conf")], stderr=subprocess.PIPE)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                await asyncio.sleep(0.05)
        else:
            raise AssertionError(f"test mosquitto did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield port, tmp_path / "ca.pem"
    finally:
        proc.terminate()
        proc.wait(5)


async def test_tls_with_username_and_password(make_node, tls_broker) -> None:
    port, ca = tls_broker
    node = await make_node(mqtt_url=f"mqtts://gw:s3cret@localhost:{port}", mqtt={"ca_file": str(ca)})
    assert node.bridge.connected and node.bridge.tls
    phone = random_phone()
    ctx = ssl.create_default_context(cafile=str(ca))
    async with aiomqtt.Client("localhost", port, username="gw", password="s3cret", tls_context=ctx,
                              protocol=aiomqtt.ProtocolVersion.V5) as watcher:
        await watcher.subscribe(f"jt808/{phone}/{phone}/up", qos=1)
        t = await Terminal(phone).connect(node.port)
        await t.login()
        sn = await t.send(HeartBeat())
        async with asyncio.timeout(5):
            async for m in watcher.messages:
                assert json.loads(m.payload)["header"]["msg_sn"] == sn
                break
        await t.close()


async def test_wrong_password_keeps_serving_and_retrying(make_node, tls_broker, caplog) -> None:
    port, ca = tls_broker
    node = await make_node(mqtt_url=f"mqtts://localhost:{port}", connect_timeout=0.5,
                           mqtt={"ca_file": str(ca), "username": "gw", "password": "wrong"})
    assert not node.bridge.connected
    phone = random_phone()
    t = await Terminal(phone).connect(node.port)
    await t.login()  # the gateway serves terminals without the broker
    await until(lambda: node.bridge.buffered >= 1, what="the connected event to be buffered")
    await t.close()
