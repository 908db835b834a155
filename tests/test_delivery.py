"""Delivering a day's extract by e-mail or SFTP, against real servers on loopback.

The SMTP server is aiosmtpd (STARTTLS with a certificate made here, AUTH); the SFTP server is paramiko's
server side over a real TCP socket, serving a temporary folder. Both stop when their test ends.
Deliveries are recorded in a real warehouse (``fresh_db``).
"""

from __future__ import annotations

import datetime as dt
import errno
import hashlib
import ipaddress
import json
import os
import socket
import ssl
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path

import paramiko
import psycopg
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from panro.config import SftpConfig, SmtpConfig, load_settings
from panro.delivery import DeliveryError, deliver_extract, read_extract
from panro.extract import render_csv, render_xlsx
from panro.warehouse import ensure_schema

DAY = dt.date(2024, 3, 8)
LOOPBACK = "127.0.0.1"
SMTP_USER, SMTP_PASSWORD = "panro-mailer", "mail-test-password"
SFTP_USER, SFTP_PASSWORD = "panro-upload", "sftp-test-password"


# --- an extract folder, as panro.extract.write_daily_extract lays it out ----------------------------


def write_extract(outbox: Path, day: dt.date = DAY, *, rows: int = 3) -> Path:
    headers = ["접수번호", "세부사업코드", "결정", "순위", "상호", "연락처"]
    folder = outbox / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for code, name in (("2-5", "라이브커머스"), ("P-1", "시범사업")):
        table = [
            [f"FF24-{code}-{i:03d}", code, "선정", i, f"상호 {i}", "010-1234-5678"]
            for i in range(1, rows + 1)
        ]
        stem = f"{day:%Y%m%d}_{code}_{name}_선정결과"
        for suffix, data in (
            (".xlsx", render_xlsx(table, headers, day, f"{code} 선정결과")),
            (".csv", render_csv(table, headers)),
        ):
            (folder / (stem + suffix)).write_bytes(data)
            files.append(
                {
                    "file": stem + suffix,
                    "program_code": code,
                    "rows": rows,
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
    manifest = {"business_day": day.isoformat(), "decided_in_runs": ["run-1"], "files": files}
    (folder / "manifest.json").write_bytes(
        (json.dumps(manifest, ensure_ascii=False, indent=2, sort_keys=True) + "\n").encode("utf-8")
    )
    return folder


@pytest.fixture()
def extract(tmp_path) -> Path:
    return write_extract(tmp_path / "outbox")


@pytest.fixture()
def warehouse(fresh_db) -> str:
    ensure_schema(fresh_db)
    return fresh_db


def deliveries(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select method, target, outcome, files, message from ops.extract_deliveries order by delivery_id"
        ).fetchall()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


# --- a real SMTP server ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (key, cert)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "panro test smtp")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, cert_path = folder / "key.pem", folder / "cert.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_path, cert_path


@dataclass
class Mailbox:
    messages: list = field(default_factory=list)
    refuse: set = field(default_factory=set)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.content, session.authenticated)
        )
        return "250 Message accepted for delivery"


def authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself


@pytest.fixture()
def smtp_server(certificate):
    """STARTTLS required, then AUTH: as a real submission server (port 587) behaves."""
    key_path, cert_path = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_path, key_path)
    mailbox = Mailbox()
    controller = Controller(
        mailbox,
        hostname=LOOPBACK,
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    try:
        yield controller, mailbox
    finally:
        controller.stop()


@pytest.fixture()
def client_tls(certificate) -> ssl.SSLContext:
    """The client trusts the test certificate (and checks the host name against it)."""
    return ssl.create_default_context(cafile=str(certificate[1]))


def smtp_config(controller, **overrides) -> SmtpConfig:
    values = dict(
        host=LOOPBACK,
        port=controller.port,
        user=SMTP_USER,
        password=SMTP_PASSWORD,
        sender="panro@example.go.kr",
        recipients=("staff-a@example.go.kr", "staff-b@example.go.kr"),
        starttls=True,
    )
    return SmtpConfig(**{**values, **overrides})


def test_smtp_mails_the_day_with_every_file_attached(smtp_server, client_tls, extract, warehouse):
    controller, mailbox = smtp_server
    config = smtp_config(controller)
    result = deliver_extract(extract, method="smtp", smtp=config, url=warehouse, ssl_context=client_tls)

    assert len(mailbox.messages) == 1
    sender, recipients, content, authenticated = mailbox.messages[0]
    assert sender == "panro@example.go.kr" and recipients == list(config.recipients) and authenticated
    message = message_from_bytes(content, policy=policy.default)
    assert message["Subject"] == "[판로] 2024-03-08 선정 결과 추출 (4개 파일)"
    body = message.get_body(("plain",)).get_content()
    assert "선정 결과 추출" in body and "20240308_2-5_라이브커머스_선정결과.xlsx" in body
    attachments = {part.get_filename(): part.get_payload(decode=True) for part in message.iter_attachments()}
    manifest = json.loads((extract / "manifest.json").read_bytes())
    assert set(attachments) == {f["file"] for f in manifest["files"]} | {"manifest.json"}
    for entry in manifest["files"]:  # byte for byte what staff would open
        assert hashlib.sha256(attachments[entry["file"]]).hexdigest() == entry["sha256"]
    assert attachments["manifest.json"] == (extract / "manifest.json").read_bytes()
    assert {f["action"] for f in result["files"]} == {"sent"}

    [(method, target, outcome, files, message_text)] = deliveries(warehouse)
    assert (method, outcome, message_text) == ("smtp", "delivered", None)
    assert SMTP_PASSWORD not in target and f"{LOOPBACK}:{controller.port}" in target
    assert sorted(f["file"] for f in files) == sorted(attachments)

    # a rerun of the day mails nothing new; a forced one does
    again = deliver_extract(extract, method="smtp", smtp=config, url=warehouse, ssl_context=client_tls)
    assert len(mailbox.messages) == 1 and {f["action"] for f in again["files"]} == {"skipped"}
    deliver_extract(extract, method="smtp", smtp=config, url=warehouse, ssl_context=client_tls, force=True)
    assert len(mailbox.messages) == 2
    assert [r[2] for r in deliveries(warehouse)] == ["delivered"] * 3


def test_smtp_failures_are_named_and_recorded(smtp_server, client_tls, extract, warehouse):
    controller, mailbox = smtp_server
    with pytest.raises(DeliveryError, match=rf"SMTP server {LOOPBACK}:{controller.port} refused the login"):
        deliver_extract(
            extract,
            method="smtp",
            smtp=smtp_config(controller, password="wrong"),
            url=warehouse,
            ssl_context=client_tls,
        )
    # the server's own certificate is not trusted by the system's CAs: no mail over an unverified TLS
    with pytest.raises(DeliveryError, match="CERTIFICATE_VERIFY_FAILED"):
        deliver_extract(extract, method="smtp", smtp=smtp_config(controller), url=warehouse)
    # without STARTTLS the server refuses AUTH in the clear
    with pytest.raises(DeliveryError, match="SMTP server"):
        deliver_extract(extract, method="smtp", smtp=smtp_config(controller, starttls=False), url=warehouse)
    mailbox.refuse = {"staff-a@example.go.kr", "staff-b@example.go.kr"}
    with pytest.raises(DeliveryError, match="refused every recipient"):
        deliver_extract(
            extract, method="smtp", smtp=smtp_config(controller), url=warehouse, ssl_context=client_tls
        )
    closed = free_port()
    with pytest.raises(DeliveryError, match=rf"SMTP server {LOOPBACK}:{closed}: ConnectionRefusedError"):
        deliver_extract(
            extract, method="smtp", smtp=smtp_config(controller, port=closed), url=warehouse, timeout=5
        )
    assert mailbox.messages == []
    recorded = deliveries(warehouse)
    assert [r[2] for r in recorded] == ["failed"] * 5
    assert all(r[4] and SMTP_PASSWORD not in r[4] and "wrong" not in r[1] for r in recorded)


def test_a_file_that_differs_from_its_manifest_is_not_sent(smtp_server, client_tls, extract, warehouse):
    controller, mailbox = smtp_server
    victim = next(extract.glob("*.csv"))
    victim.write_bytes(victim.read_bytes() + b"FF24-extra,2-5\r\n")
    with pytest.raises(DeliveryError, match=r"SHA-256 .* differs from the manifest"):
        deliver_extract(
            extract, method="smtp", smtp=smtp_config(controller), url=warehouse, ssl_context=client_tls
        )
    assert mailbox.messages == []


# --- a real SFTP server ----------------------------------------------------------------------------


class RootedSFTP(paramiko.SFTPServerInterface):
    """The SFTP operations the client uses, on a local folder (paths confined to it); counts writes."""

    def __init__(self, server, root: Path, writes: list[str]):
        super().__init__(server)
        self.root, self.writes = root, writes

    def _local(self, path: str) -> str:
        local = (self.root / os.path.normpath(path.lstrip("/"))).resolve()
        if local != self.root and self.root not in local.parents:
            raise PermissionError(errno.EACCES, "outside the root")
        return str(local)

    def _attempt(self, action):
        try:
            return action()
        except OSError as exc:
            return paramiko.SFTPServer.convert_errno(exc.errno)

    def stat(self, path):
        return self._attempt(lambda: paramiko.SFTPAttributes.from_stat(os.stat(self._local(path))))

    lstat = stat

    def list_folder(self, path):
        def listing():
            folder = self._local(path)
            return [
                paramiko.SFTPAttributes.from_stat(os.stat(os.path.join(folder, n)), n)
                for n in sorted(os.listdir(folder))
            ]

        return self._attempt(listing)

    def open(self, path, flags, attr):
        def opening():
            local = self._local(path)
            fd = os.open(local, flags, 0o600)
            writing = bool(flags & (os.O_WRONLY | os.O_RDWR))
            handle = paramiko.SFTPHandle(flags)
            handle.filename = local
            file = os.fdopen(fd, ("r+b" if flags & os.O_RDWR else "wb") if writing else "rb")
            handle.readfile = file
            if writing:
                handle.writefile = file
                self.writes.append(path)
            return handle

        return self._attempt(opening)

    def remove(self, path):
        return self._attempt(lambda: os.remove(self._local(path)) or paramiko.SFTP_OK)

    def rename(self, oldpath, newpath):  # SFTP v3: fails when the target exists
        def renaming():
            if os.path.exists(self._local(newpath)):
                raise FileExistsError(errno.EEXIST, "exists")
            os.rename(self._local(oldpath), self._local(newpath))
            return paramiko.SFTP_OK

        return self._attempt(renaming)

    def posix_rename(self, oldpath, newpath):
        return self._attempt(
            lambda: os.replace(self._local(oldpath), self._local(newpath)) or paramiko.SFTP_OK
        )

    def mkdir(self, path, attr):
        return self._attempt(lambda: os.mkdir(self._local(path)) or paramiko.SFTP_OK)


class Authenticator(paramiko.ServerInterface):
    def __init__(self, client_key: paramiko.PKey):
        self.client_key = client_key

    def get_allowed_auths(self, username):
        return "password,publickey"

    def check_auth_password(self, username, password):
        ok = (username, password) == (SFTP_USER, SFTP_PASSWORD)
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        ok = username == SFTP_USER and key == self.client_key
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED


@dataclass
class SftpServer:
    port: int
    root: Path
    host_key: paramiko.PKey
    client_key_path: Path
    writes: list[str]

    @property
    def host_key_line(self) -> str:
        return f"{self.host_key.get_name()} {self.host_key.get_base64()}"


@pytest.fixture(scope="module")
def ssh_keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ssh")
    host_key = paramiko.RSAKey.generate(2048)
    client_key = paramiko.RSAKey.generate(2048)
    client_key.write_private_key_file(str(folder / "id_rsa"))
    return host_key, client_key, folder / "id_rsa"


@pytest.fixture()
def sftp_server(tmp_path, ssh_keys):
    host_key, client_key, client_key_path = ssh_keys
    root = (tmp_path / "sftp-root").resolve()
    (root / "incoming").mkdir(parents=True)
    writes: list[str] = []
    listener = socket.socket()
    listener.bind((LOOPBACK, 0))
    listener.listen(8)
    listener.settimeout(0.1)  # accept() wakes up to notice the end of the test
    transports: list[paramiko.Transport] = []
    stopping = threading.Event()

    def serve():
        while not stopping.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listener closed
            conn.settimeout(None)
            transport = paramiko.Transport(conn)
            transport.add_server_key(host_key)
            transport.set_subsystem_handler("sftp", paramiko.SFTPServer, RootedSFTP, root, writes)
            transports.append(transport)
            try:
                transport.start_server(server=Authenticator(client_key))
            except (paramiko.SSHException, EOFError, OSError):
                continue  # a client that gave up (unknown host key): the next one

    thread = threading.Thread(target=serve, name="sftp-test-server", daemon=True)
    thread.start()
    try:
        yield SftpServer(listener.getsockname()[1], root, host_key, client_key_path, writes)
    finally:
        stopping.set()
        thread.join(timeout=5)
        listener.close()
        for transport in transports:
            transport.close()


def sftp_config(server: SftpServer, **overrides) -> SftpConfig:
    values = dict(
        host=LOOPBACK,
        port=server.port,
        user=SFTP_USER,
        password=SFTP_PASSWORD,
        remote_dir="incoming/panro",
        host_key=server.host_key_line,
    )
    return SftpConfig(**{**values, **overrides})


def remote_files(server: SftpServer) -> dict[str, bytes]:
    folder = server.root / "incoming" / "panro" / DAY.isoformat()
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_sftp_uploads_the_day_once(sftp_server, extract, warehouse):
    config = sftp_config(sftp_server)
    result = deliver_extract(extract, method="sftp", sftp=config, url=warehouse)

    local = {p.name: p.read_bytes() for p in extract.iterdir()}
    assert remote_files(sftp_server) == local  # same names, same bytes, no temporary file left
    assert {f["action"] for f in result["files"]} == {"sent"}
    assert result["files"][-1]["file"] == "manifest.json"  # the manifest arrives last
    assert all(w.endswith(".part") for w in sftp_server.writes)  # written under a temporary name
    assert len(sftp_server.writes) == len(local)

    # a rerun sends nothing
    again = deliver_extract(extract, method="sftp", sftp=config, url=warehouse)
    assert {f["action"] for f in again["files"]} == {"skipped"}
    assert len(sftp_server.writes) == len(local)

    # a corrected extract of the day: only what changed (one file, hence the manifest) goes again
    changed = next(n for n in sorted(local) if n.endswith(".csv"))
    (extract / changed).write_bytes(local[changed] + "FF24-late,2-5,선정,4,상호 4,010-1234-5678\r\n".encode())
    manifest = json.loads(local["manifest.json"])
    for entry in manifest["files"]:
        entry["sha256"] = hashlib.sha256((extract / entry["file"]).read_bytes()).hexdigest()
    (extract / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False), encoding="utf-8")
    third = deliver_extract(extract, method="sftp", sftp=config, url=warehouse)
    assert {f["file"] for f in third["files"] if f["action"] == "sent"} == {changed, "manifest.json"}
    assert remote_files(sftp_server) == {p.name: p.read_bytes() for p in extract.iterdir()}

    recorded = deliveries(warehouse)
    assert [(r[0], r[2]) for r in recorded] == [("sftp", "delivered")] * 3
    assert recorded[0][1] == f"sftp://{SFTP_USER}@{LOOPBACK}:{sftp_server.port}/incoming/panro/2024-03-08"


def test_sftp_with_a_key_file_and_known_hosts(sftp_server, extract, tmp_path):
    known_hosts = tmp_path / "known_hosts"
    known_hosts.write_text(f"[{LOOPBACK}]:{sftp_server.port} {sftp_server.host_key_line}\n")
    config = sftp_config(
        sftp_server,
        password=None,
        key_path=sftp_server.client_key_path,
        host_key=None,
        known_hosts=known_hosts,
    )
    result = deliver_extract(extract, method="sftp", sftp=config)
    assert {f["action"] for f in result["files"]} == {"sent"}
    assert set(remote_files(sftp_server)) == {p.name for p in extract.iterdir()}


def test_sftp_failures_are_named_and_recorded(sftp_server, extract, warehouse, ssh_keys):
    where = rf"SFTP {SFTP_USER}@{LOOPBACK}:{sftp_server.port}"
    with pytest.raises(DeliveryError, match=where + ": authentication failed"):
        deliver_extract(
            extract, method="sftp", sftp=sftp_config(sftp_server, password="wrong"), url=warehouse
        )
    other = paramiko.RSAKey.generate(1024)
    with pytest.raises(DeliveryError, match=where + ": the server's host key does not match"):
        deliver_extract(
            extract,
            method="sftp",
            sftp=sftp_config(sftp_server, host_key=f"{other.get_name()} {other.get_base64()}"),
            url=warehouse,
        )
    with pytest.raises(DeliveryError, match=where + r": Server .* not found in known_hosts"):
        deliver_extract(
            extract, method="sftp", sftp=sftp_config(sftp_server, host_key=None, known_hosts=Path(os.devnull))
        )
    closed = free_port()
    with pytest.raises(
        DeliveryError, match=rf"SFTP {SFTP_USER}@{LOOPBACK}:{closed}: .*(refused|Unable to connect)"
    ):
        deliver_extract(
            extract, method="sftp", sftp=sftp_config(sftp_server, port=closed), url=warehouse, timeout=5
        )
    assert sftp_server.writes == []
    assert [r[2] for r in deliveries(warehouse)] == ["failed"] * 3
    assert not (sftp_server.root / "incoming" / "panro").exists()


# --- configuration ---------------------------------------------------------------------------------


def test_the_outbox_alone_by_default(extract, warehouse, monkeypatch):
    monkeypatch.delenv("PANRO_DELIVERY", raising=False)
    result = deliver_extract(extract, url=warehouse)
    assert result["method"] == "outbox" and {f["action"] for f in result["files"]} == {"kept"}
    assert deliveries(warehouse) == []
    day, files = read_extract(extract)
    assert day == DAY and files[-1].name == "manifest.json"


def test_delivery_settings_come_from_the_environment(monkeypatch):
    for key, value in {
        "PANRO_DELIVERY": "SFTP",
        "PANRO_SMTP_HOST": "mail.example.go.kr",
        "PANRO_SMTP_PORT": "2525",
        "PANRO_SMTP_USER": "mailer",
        "PANRO_SMTP_PASSWORD": "from-the-environment",
        "PANRO_SMTP_FROM": "panro@example.go.kr",
        "PANRO_SMTP_TO": "a@example.go.kr; b@example.go.kr",
        "PANRO_SMTP_STARTTLS": "false",
        "PANRO_SFTP_HOST": "sftp.example.go.kr",
        "PANRO_SFTP_USER": "upload",
        "PANRO_SFTP_KEY_PATH": "/run/secrets/panro_sftp_key",
        "PANRO_SFTP_REMOTE_DIR": "/extracts",
    }.items():
        monkeypatch.setenv(key, value)
    settings = load_settings()
    assert settings.delivery == "sftp"
    assert settings.smtp == SmtpConfig(
        "mail.example.go.kr", 2525, "mailer", "from-the-environment", "panro@example.go.kr",
        ("a@example.go.kr", "b@example.go.kr"), False,
    )  # fmt: skip
    assert "from-the-environment" not in repr(settings)
    assert settings.sftp.port == 22 and settings.sftp.key_path == Path("/run/secrets/panro_sftp_key")
    monkeypatch.setenv("PANRO_SMTP_PORT", "smtp")
    with pytest.raises(ValueError, match="PANRO_SMTP_PORT"):
        load_settings()


def test_unknown_or_unconfigured_delivery_is_an_error(extract, monkeypatch):
    for key in ("PANRO_SMTP_HOST", "PANRO_SFTP_HOST"):
        monkeypatch.delenv(key, raising=False)
    with pytest.raises(DeliveryError, match="unknown delivery 'fax'"):
        deliver_extract(extract, method="fax")
    with pytest.raises(DeliveryError, match="PANRO_SFTP_HOST"):
        deliver_extract(extract, method="sftp")
