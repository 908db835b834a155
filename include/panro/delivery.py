"""Delivering a day's selection extract to programme staff (선정 결과 추출 전달).

The extract is one dated outbox folder (``panro.extract.write_daily_extract``): the XLSX and CSV files
and ``manifest.json``. Configuration (``PANRO_DELIVERY``) chooses how it leaves:

- ``outbox`` (default): it stays there; staff fetch it.
- ``smtp``: one mail, Korean subject, every file and the manifest attached. A day already mailed with
  the same files to the same recipients is not mailed again (``force`` resends).
- ``sftp``: uploaded into ``<remote_dir>/<day>/``, each file under a temporary name then renamed into
  place (a reader never sees half a file), the manifest last; a file already there with the same
  SHA-256 is skipped, so a rerun sends nothing twice. The server's host key must be known.

Before anything leaves, every file is checked against the manifest's SHA-256. With a warehouse URL,
every attempt, failed ones included, is a row of ``ops.extract_deliveries``. Credentials come from
configuration (the environment, or an Airflow connection turned into ``SmtpConfig``/``SftpConfig``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import mimetypes
import posixpath
import smtplib
import ssl
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from panro.config import DELIVERY_METHODS, Settings, SftpConfig, SmtpConfig, load_settings
from panro.warehouse import connect

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# Mail servers commonly refuse messages over 10-25 MB (base64 adds a third): beyond this, use SFTP.
MAX_MAIL_BYTES = 15 * 1024 * 1024


class DeliveryError(RuntimeError):
    """A delivery that did not happen, with what was tried and why."""


@dataclass(frozen=True)
class ExtractFile:
    name: str
    data: bytes
    sha256: str
    rows: int | None = None


def read_extract(folder: Path) -> tuple[date, list[ExtractFile]]:
    """The day and files of an extract folder, each checked against the manifest; the manifest last."""
    manifest_path = folder / MANIFEST
    if not manifest_path.is_file():
        raise DeliveryError(f"{folder}: no {MANIFEST}: not an extract folder")
    manifest_bytes = manifest_path.read_bytes()
    manifest = json.loads(manifest_bytes)
    files = []
    for entry in manifest["files"]:
        name = entry["file"]
        if Path(name).name != name:
            raise DeliveryError(f"{folder}/{MANIFEST}: file name {name!r} is not a plain name")
        path = folder / name
        if not path.is_file():
            raise DeliveryError(f"{path}: listed in {MANIFEST} but missing")
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry["sha256"]:
            raise DeliveryError(f"{path}: SHA-256 {digest} differs from the manifest's {entry['sha256']}")
        files.append(ExtractFile(name, data, digest, entry.get("rows")))
    files.append(ExtractFile(MANIFEST, manifest_bytes, hashlib.sha256(manifest_bytes).hexdigest()))
    return date.fromisoformat(manifest["business_day"]), files


def _listing(files: list[ExtractFile], action: str | dict[str, str]) -> list[dict]:
    return [
        {
            "file": f.name,
            "sha256": f.sha256,
            "bytes": len(f.data),
            "action": action if isinstance(action, str) else action[f.name],
        }
        for f in files
    ]


# --- SMTP ------------------------------------------------------------------------------------------


def smtp_target(config: SmtpConfig) -> str:
    return f"smtp://{config.host}:{config.port} to {', '.join(config.recipients)}"


def build_mail(day: date, files: list[ExtractFile], config: SmtpConfig) -> EmailMessage:
    data_files = [f for f in files if f.name != MANIFEST]
    message = EmailMessage()
    message["Subject"] = f"[판로] {day.isoformat()} 선정 결과 추출 ({len(data_files)}개 파일)"
    message["From"] = config.sender
    message["To"] = ", ".join(config.recipients)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=config.sender.rpartition("@")[2] or None)
    lines = [
        f"2024 소상공인 온라인 판로 지원사업 {day.isoformat()} 선정 결과 추출 파일입니다.",
        "",
        "첨부 파일 (행 수, SHA-256):",
        *(f"- {f.name} ({f.rows}행) {f.sha256}" for f in data_files),
        "",
        f"{MANIFEST}에 파일별 행 수와 SHA-256이 있습니다.",
        "개인정보(상호, 대표자명, 연락처, 이메일)가 포함되어 있으니 업무 목적 외로 전달하지 마십시오.",
        "이 메일은 panro가 자동으로 보냈습니다.",
    ]
    message.set_content("\n".join(lines) + "\n")
    for f in files:
        mime = mimetypes.guess_type(f.name)[0] or "application/octet-stream"
        maintype, subtype = mime.split("/", 1)
        message.add_attachment(f.data, maintype=maintype, subtype=subtype, filename=f.name)
    return message


def send_mail(
    day: date,
    files: list[ExtractFile],
    config: SmtpConfig,
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 30.0,
) -> None:
    """Mail the files; raises DeliveryError naming the server and what it answered."""
    if not config.recipients or not config.sender:
        raise DeliveryError(
            "SMTP delivery needs a sender and at least one recipient (PANRO_SMTP_FROM, PANRO_SMTP_TO)"
        )
    size = sum(len(f.data) for f in files)
    if size > MAX_MAIL_BYTES:
        raise DeliveryError(f"the extract of {day} is {size} bytes: too large to mail, deliver it by SFTP")
    message = build_mail(day, files, config)
    where = f"SMTP server {config.host}:{config.port}"
    try:
        with smtplib.SMTP(config.host, config.port, timeout=timeout) as smtp:
            smtp.ehlo()
            if config.starttls:
                smtp.starttls(context=ssl_context or ssl.create_default_context())
                smtp.ehlo()
            if config.user:
                smtp.login(config.user, config.password or "")
            refused = smtp.send_message(message)
    except smtplib.SMTPAuthenticationError as exc:
        raise DeliveryError(
            f"{where} refused the login of {config.user!r}: {exc.smtp_code} {exc.smtp_error!r}"
        ) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise DeliveryError(f"{where} refused every recipient: {exc.recipients}") from exc
    except smtplib.SMTPResponseException as exc:
        raise DeliveryError(f"{where} answered {exc.smtp_code} {exc.smtp_error!r}") from exc
    except smtplib.SMTPNotSupportedError as exc:
        raise DeliveryError(f"{where}: {exc} (STARTTLS or AUTH not offered)") from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from exc
    if refused:
        raise DeliveryError(f"{where} refused some recipients: {refused}")


# --- SFTP ------------------------------------------------------------------------------------------


def sftp_target(config: SftpConfig, day: date) -> str:
    path = posixpath.join(config.remote_dir, day.isoformat())
    return f"sftp://{config.user}@{config.host}:{config.port}{'' if path.startswith('/') else '/'}{path}"


def _ssh_client(config: SftpConfig):
    import paramiko  # imported lazily: only SFTP delivery needs it

    client = paramiko.SSHClient()
    if config.host_key:
        key_type, _, key_data = config.host_key.strip().partition(" ")
        key = paramiko.PKey.from_type_string(key_type, base64.b64decode(key_data.split()[0]))
        name = config.host if config.port == 22 else f"[{config.host}]:{config.port}"
        client.get_host_keys().add(name, key_type, key)
    elif config.known_hosts:
        client.load_host_keys(str(config.known_hosts))
    else:
        client.load_system_host_keys()
    client.set_missing_host_key_policy(paramiko.RejectPolicy())  # never trust an unknown server
    return client


def _remote_sha256(sftp, path: str, size: int) -> str | None:
    """SHA-256 of the remote file, or None when it is absent or of another size."""
    try:
        if sftp.stat(path).st_size != size:
            return None
    except OSError:
        return None
    digest = hashlib.sha256()
    with sftp.open(path, "rb") as remote:
        remote.prefetch(size)
        for chunk in iter(lambda: remote.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _makedirs(sftp, path: str) -> None:
    current = "/" if path.startswith("/") else ""
    for part in [p for p in path.split("/") if p and p != "."]:
        current = posixpath.join(current, part) if current else part
        try:
            sftp.stat(current)
        except OSError:
            sftp.mkdir(current)


def upload_sftp(
    day: date, files: list[ExtractFile], config: SftpConfig, *, timeout: float = 30.0
) -> dict[str, str]:
    """Upload into ``<remote_dir>/<day>/``; returns file -> "sent" | "skipped". Raises DeliveryError."""
    import paramiko

    where = f"SFTP {config.user}@{config.host}:{config.port}"
    if not (config.password or config.key_path):
        raise DeliveryError(f"{where}: no password or key file (PANRO_SFTP_PASSWORD or PANRO_SFTP_KEY_PATH)")
    client = _ssh_client(config)
    actions: dict[str, str] = {}
    try:
        client.connect(
            config.host,
            port=config.port,
            username=config.user,
            password=config.password,
            key_filename=str(config.key_path) if config.key_path else None,
            look_for_keys=False,  # only the configured credentials, never whatever ~/.ssh holds
            allow_agent=False,
            timeout=timeout,
            banner_timeout=timeout,
            auth_timeout=timeout,
        )
        with client.open_sftp() as sftp:
            sftp.get_channel().settimeout(timeout)
            folder = posixpath.join(config.remote_dir, day.isoformat())
            _makedirs(sftp, folder)
            for f in files:  # the manifest comes last: it appears only when every file is in place
                final = posixpath.join(folder, f.name)
                if _remote_sha256(sftp, final, len(f.data)) == f.sha256:
                    actions[f.name] = "skipped"
                    continue
                partial = posixpath.join(folder, f".{f.name}.part")
                sftp.putfo(io.BytesIO(f.data), partial, file_size=len(f.data), confirm=True)
                try:
                    sftp.posix_rename(partial, final)  # atomic replace (OpenSSH extension)
                except OSError:
                    try:  # a server without the extension: plain rename needs the target gone
                        sftp.remove(final)
                    except OSError:
                        pass
                    sftp.rename(partial, final)
                actions[f.name] = "sent"
    except paramiko.BadHostKeyException as exc:
        raise DeliveryError(f"{where}: the server's host key does not match the known one: refusing") from exc
    except paramiko.AuthenticationException as exc:
        raise DeliveryError(f"{where}: authentication failed ({exc})") from exc
    except paramiko.SSHException as exc:
        raise DeliveryError(f"{where}: {exc}") from exc
    except OSError as exc:  # refused, unreachable, timed out
        raise DeliveryError(f"{where}: {type(exc).__name__}: {exc}") from exc
    finally:
        client.close()
    return actions


# --- one day ---------------------------------------------------------------------------------------


def _already_mailed(url: str, day: date, target: str, files: list[ExtractFile]) -> bool:
    wanted = sorted((f.name, f.sha256) for f in files)
    with connect(url) as conn:
        rows = conn.execute(
            """select files from ops.extract_deliveries
                where business_day = %s and method = 'smtp' and target = %s and outcome = 'delivered'""",
            (day, target),
        ).fetchall()
    return any(sorted((f["file"], f["sha256"]) for f in row[0]) == wanted for row in rows)


def _record(
    url: str, day: date, method: str, target: str, started: datetime, outcome: str, files, message
) -> None:
    with connect(url) as conn:
        conn.execute(
            """insert into ops.extract_deliveries
                   (business_day, method, target, started_at, finished_at, outcome, files, message)
               values (%s, %s, %s, %s, %s, %s, %s::jsonb, %s)""",
            (
                day,
                method,
                target,
                started,
                datetime.now(UTC),
                outcome,
                json.dumps(files, ensure_ascii=False),
                message,
            ),
        )


def deliver_extract(
    folder: Path,
    *,
    method: str | None = None,
    settings: Settings | None = None,
    smtp: SmtpConfig | None = None,
    sftp: SftpConfig | None = None,
    url: str | None = None,
    force: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 30.0,
) -> dict:
    """Deliver one extract folder as ``method`` (default: the configuration's). ``smtp``/``sftp`` override
    the configured servers (e.g. built from an Airflow connection). Returns what was done; raises
    DeliveryError after recording the failure."""
    settings = settings or load_settings()
    method = method or settings.delivery
    if method not in DELIVERY_METHODS:
        raise DeliveryError(
            f"unknown delivery {method!r} (PANRO_DELIVERY): one of {', '.join(DELIVERY_METHODS)}"
        )
    day, files = read_extract(folder)
    if method == "outbox":
        return {
            "business_day": day.isoformat(),
            "method": "outbox",
            "target": str(folder),
            "files": _listing(files, "kept"),
        }
    config = (smtp or settings.smtp) if method == "smtp" else (sftp or settings.sftp)
    if config is None:
        raise DeliveryError(
            f"PANRO_DELIVERY={method} but no {method.upper()} server is configured (PANRO_{method.upper()}_HOST)"
        )
    target = smtp_target(config) if method == "smtp" else sftp_target(config, day)
    started = datetime.now(UTC)
    try:
        if method == "smtp":
            if url and not force and _already_mailed(url, day, target, files):
                actions: str | dict[str, str] = "skipped"
            else:
                send_mail(day, files, config, ssl_context=ssl_context, timeout=timeout)
                actions = "sent"
        else:
            actions = upload_sftp(day, files, config, timeout=timeout)
    except DeliveryError as exc:
        if url:
            _record(url, day, method, target, started, "failed", _listing(files, "failed"), str(exc))
        log.error("delivery of the %s extract by %s failed: %s", day, method, exc)
        raise
    listing = _listing(files, actions)
    if url:
        _record(url, day, method, target, started, "delivered", listing, None)
    sent = sum(1 for f in listing if f["action"] == "sent")
    log.info(
        "extract of %s delivered by %s to %s: %d sent, %d skipped",
        day,
        method,
        target,
        sent,
        len(listing) - sent,
    )
    return {"business_day": day.isoformat(), "method": method, "target": target, "files": listing}


def deliver_day(
    day: date, *, settings: Settings | None = None, url: str | None = None, **kwargs
) -> dict | None:
    """Deliver the extract of ``day`` from the outbox; None when that day wrote no extract."""
    settings = settings or load_settings()
    folder = settings.outbox_dir / day.isoformat()
    if not (folder / MANIFEST).is_file():
        return None
    return deliver_extract(folder, settings=settings, url=url, **kwargs)
