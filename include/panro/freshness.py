"""Source freshness: ``dbt source freshness`` with each source's warn and error limits (declared in the
sources' yml), surfaced like a quality gate: one row per source table in ``ops.validation_results``
(gate ``freshness``), warnings and errors logged and alerted.

Freshness is measured on the load ledger (the last successful load of the source), not on the newest
raw row: a daily API load that found nothing new is still a delivery, and a file source is fresh when a
file arrived. An error stops the run only for the sources the day's decisions cannot do without
(``BLOCKING``): deciding with a portal or a tax-office status three days old would select on stale
facts. For the others (score rounds, partner workbooks, reference lists) staleness is alerted and the
day goes on: their data only adds evidence, and staff need the day's decisions.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

from panro.dbt import DbtError, run_dbt
from panro.quality import GateResult, Validation, _message, _report, _store

log = logging.getLogger(__name__)

BLOCKING = frozenset({"portal", "nts"})
NEVER = datetime(1, 1, 1, tzinfo=UTC)  # what dbt reports for a source that has never loaded


def run_freshness(url: str, *, run_id: str, business_day: date) -> GateResult:
    """Run ``dbt source freshness``, store and alert each source's result; ``success`` is False when a
    blocking source is past its error limit."""
    started = time.monotonic()
    validated_at = datetime.now(UTC)
    with tempfile.TemporaryDirectory(prefix="panro-freshness-") as tmp:
        output = Path(tmp) / "sources.json"
        try:
            run_dbt(
                ["source", "freshness", "--output", str(output)],
                url,
                # the transform's own vars: other --vars would make dbt parse the whole project again
                {"round_date": business_day.isoformat(), "run_id": run_id},
            )
        except DbtError:
            if not output.exists():  # dbt itself failed, not a stale source
                raise
        results = json.loads(output.read_text(encoding="utf-8"))["results"]
    validations = [_validation(r) for r in sorted(results, key=lambda r: r["unique_id"])]
    _store(
        url,
        "freshness",
        validations,
        run_id=run_id,
        business_day=business_day,
        validated_at=validated_at,
        snapshot=None,
    )
    result = GateResult(
        "freshness",
        all(v.success for v in validations),
        [_message(v, f) for v in validations for f in v.hard_failures],
        [_message(v, f) for v in validations for f in v.warnings],
        None,
        validations,
        round(time.monotonic() - started, 3),
    )
    _report(result, run_id=run_id, business_day=business_day)
    return result


def _validation(result: dict) -> Validation:
    """One source table's freshness result as a validation: pass, a warning, or a hard failure."""
    _, _, source, table = result["unique_id"].split(".", 3)
    status = result["status"]  # pass / warn / error / runtime error
    observed: dict = {"status": status}
    failed = []
    if status != "pass":
        loaded = result.get("max_loaded_at")
        loaded_at = datetime.fromisoformat(loaded.replace("Z", "+00:00")) if loaded else NEVER
        never = loaded_at <= NEVER
        observed |= {
            "max_loaded_at": None if never else loaded_at.isoformat(),
            "age_hours": None if never else round(result.get("max_loaded_at_time_ago_in_s", 0) / 3600, 1),
            "criteria": result.get("criteria"),
            "message": result.get("message"),
        }
        # A source that never delivered is a warning: most partner sources start sending weeks in.
        hard = status != "warn" and source in BLOCKING and not never
        failed.append(
            {
                "type": "source_freshness",
                "column": None,
                "observed": observed,
                "severity": "hard" if hard else "warning",
                "description": "never delivered" if never else f"last successful load too old ({status})",
            }
        )
    return Validation(
        suite=f"freshness.{source}.{table}",
        batch=f"source {source}.{table}",
        table=f"raw.{table}",
        load_id=None,
        evaluated=1,
        failed=failed,
    )
