"""Settings, read from the environment only (no secrets in the repository).

Every external system is configuration: the connectors never know whether they talk to the
real 판판대로 portal or to the simulator.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


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
    warehouse_url: str | None
    portal_base_url: str | None
    portal_token: str | None
    nts_base_url: str | None
    nts_service_key: str | None
    drop_dir: Path
    outbox_dir: Path
    allocation_seed: str
    business_key_salt: str

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
    )
