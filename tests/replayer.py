"""A scenario replayed through the real DAGs into its own database, with the simulated portal and tax
office on loopback (shared by the end-to-end tests)."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import date
from pathlib import Path

import psycopg

from panro.config import load_settings
from panro.replay import run_days
from panro.servers.nts import NtsServer, NtsState
from panro.servers.portal import PortalServer, PortalState


class Replayer:
    """A scenario served by the simulators, replayed through the DAGs into its own database."""

    def __init__(self, pg_server: str, root: Path, scenario: Path, dbname: str) -> None:
        with psycopg.connect(pg_server, autocommit=True) as conn:
            conn.execute(f"drop database if exists {dbname} with (force)")
            conn.execute(f"create database {dbname}")
        self.url = pg_server.replace("/postgres?", f"/{dbname}?")
        self.scenario = scenario
        self.settings = dataclasses.replace(
            load_settings(),
            state_dir=root / "state",
            drop_dir=root / "state" / "drop",
            outbox_dir=root / "outbox",
        )
        token, key = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        self.portal = PortalServer(PortalState.from_scenario(scenario, token)).start()
        self.nts = NtsServer(NtsState.from_scenario(scenario, key)).start()
        self.env = {
            "WAREHOUSE_URL": self.url,
            "PORTAL_BASE_URL": self.portal.base_url,
            "PORTAL_TOKEN": token,
            "NTS_BASE_URL": self.nts.base_url,
            "NTS_SERVICE_KEY": key,
            "PANRO_STATE_DIR": str(self.settings.state_dir),
            "PANRO_DROP_DIR": str(self.settings.drop_dir),
            "PANRO_OUTBOX_DIR": str(self.settings.outbox_dir),
            "PANRO_RETRY_DELAY_S": "1",
        }

    def replay(self, first: date, last: date) -> None:
        run_days(
            first,
            last,
            settings=self.settings,
            extra_env=self.env,
            scenario=self.scenario,
            sim_control=[self.portal.base_url, self.nts.base_url],
        )

    def close(self) -> None:
        self.portal.stop()
        self.nts.stop()
