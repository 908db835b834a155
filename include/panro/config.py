"""Settings, read from the environment only (no secrets in the repository).

Every external system is configuration: the connectors never know whether they talk to the
real 판판대로 portal or to the simulator.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DELIVERY_METHODS = ("outbox", "smtp", "sftp")


@dataclass(frozen=True)
class SmtpConfig:
    """Where the daily extract is mailed (PANRO_SMTP_*). The password never shows in a repr."""

    host: str
    port: int = 587
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = ""
    recipients: tuple[str, ...] = ()
    starttls: bool = True


@dataclass(frozen=True)
class SftpConfig:
    """Where the daily extract is uploaded (PANRO_SFTP_*): a password or a private key file, and the
    server's host key (a ``known_hosts`` file or one ``<type> <base64>`` line); unknown hosts are refused."""

    host: str
    user: str
    port: int = 22
    password: str | None = field(default=None, repr=False)
    key_path: Path | None = None
    remote_dir: str = "."
    known_hosts: Path | None = None
    host_key: str | None = None


def project_home() -> Path:
    """The project checkout (holds dags/, dbt_project/, expectations/)."""
    env = os.environ.get("PANRO_HOME")
    if env:
        return Path(env).resolve()
    # include/panro/config.py -> project root
    return Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Settings:
    home: Path
    state_dir: Path
    # secrets (a URL may carry a password) never appear in a repr, a log line or a traceback
    warehouse_url: str | None = field(repr=False)
    portal_base_url: str | None
    portal_token: str | None = field(repr=False)
    nts_base_url: str | None
    nts_service_key: str | None = field(repr=False)
    drop_dir: Path
    outbox_dir: Path
    allocation_seed: str
    business_key_salt: str = field(repr=False)
    # How the daily extract leaves the outbox (panro.delivery): outbox (stays there), smtp or sftp.
    delivery: str = "outbox"
    smtp: SmtpConfig | None = None
    sftp: SftpConfig | None = None

    @property
    def dbt_project_dir(self) -> Path:
        return self.home / "dbt_project"

    @property
    def dags_dir(self) -> Path:
        return self.home / "dags"

    @property
    def embedded_pgdata(self) -> Path:
        return self.state_dir / "pgdata"

    @property
    def airflow_home(self) -> Path:
        return self.state_dir / "airflow"

    @property
    def logs_dir(self) -> Path:
        return self.state_dir / "logs"


def _port(name: str, default: int) -> int:
    text = os.environ.get(name) or str(default)
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ValueError(f"{name} must be a TCP port, got {text!r}")
    return int(text)


def _smtp_config() -> SmtpConfig | None:
    host = os.environ.get("PANRO_SMTP_HOST")
    if not host:
        return None
    starttls = os.environ.get("PANRO_SMTP_STARTTLS", "true").strip().lower()
    if starttls not in ("true", "false", "1", "0", "yes", "no"):
        raise ValueError(f"PANRO_SMTP_STARTTLS must be true or false, got {starttls!r}")
    recipients = os.environ.get("PANRO_SMTP_TO", "")
    return SmtpConfig(
        host=host,
        port=_port("PANRO_SMTP_PORT", 587),
        user=os.environ.get("PANRO_SMTP_USER") or None,
        password=os.environ.get("PANRO_SMTP_PASSWORD") or None,
        sender=os.environ.get("PANRO_SMTP_FROM", ""),
        recipients=tuple(r.strip() for r in recipients.replace(";", ",").split(",") if r.strip()),
        starttls=starttls in ("true", "1", "yes"),
    )


def _sftp_config() -> SftpConfig | None:
    host = os.environ.get("PANRO_SFTP_HOST")
    if not host:
        return None
    key_path = os.environ.get("PANRO_SFTP_KEY_PATH")
    known_hosts = os.environ.get("PANRO_SFTP_KNOWN_HOSTS")
    return SftpConfig(
        host=host,
        user=os.environ.get("PANRO_SFTP_USER", ""),
        port=_port("PANRO_SFTP_PORT", 22),
        password=os.environ.get("PANRO_SFTP_PASSWORD") or None,
        key_path=Path(key_path) if key_path else None,
        remote_dir=os.environ.get("PANRO_SFTP_REMOTE_DIR", "."),
        known_hosts=Path(known_hosts) if known_hosts else None,
        host_key=os.environ.get("PANRO_SFTP_HOST_KEY") or None,
    )


def load_settings() -> Settings:
    home = project_home()
    state = Path(os.environ.get("PANRO_STATE_DIR", home / ".panro")).resolve()
    return Settings(
        home=home,
        state_dir=state,
        warehouse_url=os.environ.get("WAREHOUSE_URL") or None,
        portal_base_url=os.environ.get("PORTAL_BASE_URL") or None,
        portal_token=os.environ.get("PORTAL_TOKEN") or None,
        nts_base_url=os.environ.get("NTS_BASE_URL") or None,
        nts_service_key=os.environ.get("NTS_SERVICE_KEY") or None,
        drop_dir=Path(os.environ.get("PANRO_DROP_DIR", state / "drop")).resolve(),
        outbox_dir=Path(os.environ.get("PANRO_OUTBOX_DIR", state / "outbox")).resolve(),
        # Published seed for the last tie-break of the ranking (DESIGN: allocation).
        allocation_seed=os.environ.get("PANRO_ALLOCATION_SEED", "panro-2024"),
        business_key_salt=os.environ.get("PANRO_BUSINESS_KEY_SALT", "panro-dev-salt"),
        delivery=os.environ.get("PANRO_DELIVERY", "outbox").strip().lower() or "outbox",
        smtp=_smtp_config(),
        sftp=_sftp_config(),
    )
