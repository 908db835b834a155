"""Running the dbt project: the same ``dbt`` of this environment, with the warehouse taken from its URL."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

from panro.config import Settings, load_settings
from panro.replay import KST
from panro.warehouse import dbt_env

log = logging.getLogger(__name__)


class DbtError(RuntimeError):
    pass


# The transform's dbt commands, one definition for the transform DAG and the benchmark that measures it.
SEED = ["seed", "--full-refresh"]
# Unit tests check the SQL, which a day does not change, so the daily builds leave them out (dbt's own
# advice for production runs); CI runs every one of them (tests/test_dbt_project.py).
NO_UNIT_TESTS = ["--exclude-resource-type", "unit_test"]
# The intermediate models that store a mart's rows (tag built_with_marts; the mart is a view on them) are
# built with the marts, after the transformed gate: built before it, a gate that fails would already
# have changed what BI reads.
BUILD_STAGING_INTERMEDIATE = [
    "build",
    "--select",
    "staging",
    "quarantine",
    "intermediate",
    "--exclude",
    "tag:built_with_marts",
    *NO_UNIT_TESTS,
]
BUILD_MARTS = ["build", "--select", "marts", "restricted", "tag:built_with_marts", *NO_UNIT_TESTS]


def seed_digest(settings: Settings | None = None) -> str:
    """SHA-256 of what the seeds load: every file under ``seeds/``, ``dbt_project.yml`` (their config),
    the macros (where schemas are named) and the dbt version that loads them."""
    from importlib.metadata import version

    project = (settings or load_settings()).dbt_project_dir
    digest = hashlib.sha256(f"dbt-core {version('dbt-core')}\n".encode())
    files = [p for folder in ("seeds", "macros") for p in (project / folder).rglob("*") if p.is_file()]
    for path in [project / "dbt_project.yml", *sorted(files)]:
        digest.update(f"{path.relative_to(project).as_posix()}\n".encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def seed_if_changed(url: str, dbt_vars: dict | None = None, settings: Settings | None = None) -> str | None:
    """``dbt seed`` when the seeds differ from those the warehouse holds (ops.seed_state) or one of
    their tables is missing; otherwise nothing. Returns dbt's output when it seeded, else None."""
    from panro.warehouse import connect, ensure_schema

    settings = settings or load_settings()
    ensure_schema(url)
    digest = seed_digest(settings)
    tables = sorted(p.stem for p in (settings.dbt_project_dir / "seeds").rglob("*.csv"))
    with connect(url) as conn:
        held = conn.execute("select digest from ops.seed_state").fetchone()
        missing = [
            t
            for t in tables
            if conn.execute("select to_regclass(%s)", (f"reference.{t}",)).fetchone()[0] is None
        ]
    if held is not None and held[0] == digest and not missing:
        log.info("dbt seed: the %d seeds are unchanged since they were loaded, not reloaded", len(tables))
        return None
    output = run_dbt(SEED, url, dbt_vars, settings)
    with connect(url) as conn:
        conn.execute(
            """insert into ops.seed_state (digest) values (%s)
               on conflict (is_current) do update set digest = excluded.digest, seeded_at = now()""",
            (digest,),
        )
    return output


# The vars that change with every run go to dbt in the environment (PANRO_ROUND_DATE, PANRO_RUN_ID; macro
# run_var), not in --vars: dbt parses the whole project again whenever --vars differ, 4 s of every run.
RUN_VARS = ("round_date", "run_id")


def dbt_executable() -> str:
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def run_dbt(
    args: list[str],
    url: str,
    dbt_vars: dict | None = None,
    settings: Settings | None = None,
    *,
    target: Path | None = None,
    extra_env: dict[str, str] | None = None,
) -> str:
    """Run one dbt command; return its output. Raises DbtError with the failing part of the output.
    ``target``: dbt's target folder (default ``<state>/dbt/target``)."""
    settings = settings or load_settings()
    target = target or settings.state_dir / "dbt" / "target"
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
    for name in RUN_VARS:  # only what this call gives, never a value left in the caller's environment
        env.pop(f"PANRO_{name.upper()}", None)
    if dbt_vars is not None:
        # The published tie-break seed and the business-key salt come from configuration, never from callers.
        dbt_vars = {**dbt_vars, "allocation_seed": settings.allocation_seed}
        env["PANRO_BUSINESS_KEY_SALT"] = settings.business_key_salt
        for name in RUN_VARS:
            if name in dbt_vars:
                env[f"PANRO_{name.upper()}"] = str(dbt_vars.pop(name))
        command += ["--vars", json.dumps(dbt_vars, sort_keys=True)]
    env.update(extra_env or {})
    started = time.monotonic()
    proc = subprocess.run(command, env=env, capture_output=True, text=True, cwd=settings.dbt_project_dir)
    output = proc.stdout + proc.stderr
    log.info("dbt %s: exit %d in %.1fs", " ".join(args), proc.returncode, time.monotonic() - started)
    if proc.returncode != 0:
        failing = _failing_lines(output.splitlines())
        raise DbtError(
            f"dbt {' '.join(args)} failed (exit {proc.returncode}):\n"
            + "\n".join(failing[-40:] or output.splitlines()[-40:])
        )
    return output


def _failing_lines(lines: list[str]) -> list[str]:
    """The lines of dbt's output that say what failed: those naming an error or a failure, each with
    the lines indented under it (where dbt gives the reason, e.g. a macro's compiler error)."""
    out: list[str] = []
    for i, line in enumerate(lines):
        if "ERROR" in line or "FAIL" in line or "Error" in line:
            depth = len(line) - len(line.lstrip())
            if line not in out:
                out.append(line)
            for below in lines[i + 1 : i + 6]:
                if below.strip() and len(below) - len(below.lstrip()) <= depth:
                    break
                if below.strip() and below not in out:
                    out.append(below)
    return out


# What `dbt docs generate --static` writes that a reader needs: static_index.html opens from disk on its
# own (manifest and catalog inside); index.html needs the two JSON files beside it and a web server
# (`dbt docs serve`), since browsers refuse to fetch files from a file:// page.
DOCS_FILES = ("static_index.html", "index.html", "catalog.json", "manifest.json")
# Compiled SQL shows the salt of business_key (macros/brn.sql): the docs get this placeholder instead,
# so that whoever reads them cannot hash BRNs into business keys.
SALT_PLACEHOLDER = "<PANRO_BUSINESS_KEY_SALT>"


def docs_dir(settings: Settings | None = None) -> Path:
    return (settings or load_settings()).state_dir / "dbt_docs"


def generate_docs(url: str, settings: Settings | None = None) -> Path:
    """`dbt docs generate` on the warehouse at ``url`` into ``<state>/dbt_docs/`` (DOCS_FILES): every
    model's description, columns, tests and lineage, and the catalog of the tables as built (column
    types, row counts). Returns the folder.

    dbt works in a target folder of its own, so a transform running at the same time keeps its own;
    each file is then replaced whole, so a reader never sees half a catalog."""
    settings = settings or load_settings()
    target = settings.state_dir / "dbt" / "docs-target"
    run_dbt(
        ["docs", "generate", "--static"],
        url,
        # the compiled SQL shows a round day: today's (KST)
        {"round_date": datetime.now(KST).date().isoformat()},
        settings=settings,
        target=target,
        extra_env={"PANRO_BUSINESS_KEY_SALT": SALT_PLACEHOLDER},
    )
    out = docs_dir(settings)
    out.mkdir(parents=True, exist_ok=True)
    for name in DOCS_FILES:
        tmp = out / f".{name}.tmp"
        shutil.copyfile(target / name, tmp)
        os.replace(tmp, out / name)
    log.info("dbt docs in %s", out)
    return out
