"""Running the dbt project: the same ``dbt`` of this environment, with the warehouse taken from its URL."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

from panro.config import Settings, load_settings
from panro.warehouse import dbt_env

log = logging.getLogger(__name__)


class DbtError(RuntimeError):
    pass


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(args: list[str], url: str, dbt_vars: dict | None = None, settings: Settings | None = None) -> str:
    """Run one dbt command; return its output. Raises DbtError with the failing part of the output."""
    settings = settings or load_settings()
    target = settings.state_dir / "dbt" / "target"
    logs = settings.logs_dir / "dbt"
    env = {
        **os.environ,
        **dbt_env(url),
        "DBT_TARGET_PATH": str(target),
        "DBT_LOG_PATH": str(logs),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    command = [
        dbt_executable(),
        *args,
        "--project-dir",
        str(settings.dbt_project_dir),
        "--profiles-dir",
        str(settings.dbt_project_dir),
    ]
    if dbt_vars is not None:
        # The published tie-break seed and the business-key salt come from configuration, never from callers.
        dbt_vars = {**dbt_vars, "allocation_seed": settings.allocation_seed}
        env["PANRO_BUSINESS_KEY_SALT"] = settings.business_key_salt
        command += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    started = time.monotonic()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, cwd=settings.dbt_project_dir)
    output = proc.stdout + proc.stderr
    log.info("dbt %s: exit %d in %.1fs", " ".join(args), proc.returncode, time.monotonic() - started)
    if proc.returncode != 0:
        failing = [
            line for line in output.splitlines() if "ERROR" in line or "FAIL" in line or "Error" in line
        ]
        raise DbtError(
            f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n"
            + "\n".join(failing[-40:] or output.splitlines()[-40:])
        )
    return output
