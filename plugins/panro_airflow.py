"""Airflow glue shared by panro's DAGs: defaults, the daily KST timetable, assets, alerts, the
warehouse connection. Logic stays in the ``panro`` package; this file only adapts it to Airflow."""

from __future__ import annotations

import json
import logging
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pendulum
from airflow.sdk import Asset
from airflow.sdk.exceptions import AirflowFailException
from airflow.timetables.interval import CronDataIntervalTimetable

from panro.ingest import FILE_SOURCE_GROUPS

log = logging.getLogger(__name__)

KST = pendulum.timezone("Asia/Seoul")
START_DATE = pendulum.datetime(2024, 2, 1, tz=KST)
# One business day a run: the data interval is [D 00:00, D+1 00:00) KST. A plain cron schedule would give
# Airflow 3 runs an empty interval.
DAILY_KST = CronDataIntervalTimetable("0 0 * * *", timezone=KST)
# The dbt docs, once a day after the night's rounds (which start at 00:00 KST with the ingest DAGs).
DOCS_DAILY_KST = CronDataIntervalTimetable("0 6 * * *", timezone=KST)

RAW_ASSETS = {
    name: Asset(f"panro://warehouse/raw/{name}")
    for name in ["portal", "nts", *(s for sources in FILE_SOURCE_GROUPS.values() for s in sources)]
}
RAW_PORTAL = RAW_ASSETS["portal"]
# Applications from every channel must have landed before the tax office is asked about their BRNs.
APPLICATION_ASSETS = [RAW_ASSETS["portal"], RAW_ASSETS["sbiz24"], RAW_ASSETS["kakao"]]
MARTS = Asset("panro://warehouse/marts")

WAREHOUSE_CONN_ID = "panro_warehouse"


class GateStopped(AirflowFailException):
    """A quality gate found a hard failure. Not retried (the data, not a transient fault, is wrong),
    and not alerted again by the task callback: the gate has already sent its own, fuller alert."""

    already_alerted = True


def alert_on_failure(context) -> None:
    """Task failure alert: one JSON line in the alerts log, and a webhook when one is configured."""
    from panro.alerts import send_alert

    # An attribute, not isinstance: Airflow's plugin loader may import this module a second time.
    if getattr(context.get("exception"), "already_alerted", False):
        return
    ti = context.get("task_instance") or context.get("ti")
    send_alert(
        kind="task_failed",
        dag_id=getattr(ti, "dag_id", None),
        task_id=getattr(ti, "task_id", None),
        run_id=context.get("run_id"),
        error=str(context.get("exception") or ""),
    )


DEFAULT_ARGS = {
    "owner": "panro-data",
    "retries": int(os.environ.get("PANRO_TASK_RETRIES", "2")),
    "retry_delay": timedelta(seconds=float(os.environ.get("PANRO_RETRY_DELAY_S", "120"))),
    "retry_exponential_backoff": True,
    "on_failure_callback": alert_on_failure,
}


def warehouse_url() -> str:
    """``WAREHOUSE_URL``, else the Airflow connection ``panro_warehouse``. Neither is an error: a task
    must never quietly write to some other warehouse."""
    if os.environ.get("WAREHOUSE_URL"):
        return os.environ["WAREHOUSE_URL"]
    from airflow.sdk import BaseHook

    try:
        conn = BaseHook.get_connection(WAREHOUSE_CONN_ID)
    except Exception as exc:  # noqa: BLE001 - the SDK raises its own not-found type
        raise RuntimeError(
            f"no warehouse configured: set WAREHOUSE_URL or the Airflow connection {WAREHOUSE_CONN_ID!r}"
        ) from exc
    return conn.get_uri().replace("postgres://", "postgresql://", 1)


def data_interval(context) -> tuple[datetime, datetime]:
    start, end = context["data_interval_start"], context["data_interval_end"]
    if start is None or end is None or end <= start:
        raise ValueError(f"run {context.get('run_id')} has no data interval ({start} .. {end})")
    return start.astimezone(UTC), end.astimezone(UTC)


def business_day_of_interval(context) -> date:
    """The KST calendar day an ingest run covers: the start of its data interval."""
    return pendulum.instance(data_interval(context)[0]).in_timezone(KST).date()


def triggered_business_day(context) -> date:
    """The business day of an asset-triggered run: ``params.business_day``, else the latest business
    day of the asset events that triggered it, else the day before its logical date (KST)."""
    chosen = (context.get("params") or {}).get("business_day")
    if chosen:
        return date.fromisoformat(chosen)
    days = [
        date.fromisoformat(event.extra["business_day"])
        for events in (context.get("triggering_asset_events") or {}).values()
        for event in events
        if (event.extra or {}).get("business_day")
    ]
    if days:
        return max(days)
    return pendulum.instance(context["logical_date"]).in_timezone(KST).date() - timedelta(days=1)


def mark_business_day(context, asset: Asset, day: date, **extra) -> None:
    """Put the business day on the asset event, so the triggered transform knows which day to decide."""
    context["outlet_events"][asset].extra = {"business_day": day.isoformat(), **extra}


def state_path(*parts: str) -> Path:
    from panro.config import load_settings

    return load_settings().state_dir.joinpath(*parts)


def dumps(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def quality_gate(context, gate: str, business_day: date, load_ids: list[str] | None = None) -> dict:
    """Run a Great Expectations gate for this run; a hard failure fails the task (``GateStopped``) so
    that nothing after it runs. Warnings are stored, alerted and returned, never swallowed."""
    from panro.quality import default_docs_dir, run_gate

    result = run_gate(
        warehouse_url(),
        gate,
        run_id=context["run_id"],
        business_day=business_day,
        load_ids=load_ids,
        docs_dir=default_docs_dir(),
    )
    if not result.success:
        more = f" (+{len(result.failures) - 5} more)" if len(result.failures) > 5 else ""
        raise GateStopped(
            f"{gate} gate failed for {business_day}: "
            + "; ".join(result.failures[:5])
            + more
            + f". Results: ops.validation_results (run {context['run_id']}); Data Docs: {result.docs_index}"
        )
    return {
        "gate": gate,
        "validations": len(result.validations),
        "warnings": result.warnings,
        "data_docs": str(result.docs_index) if result.docs_index else None,
    }


def freshness_check(context, business_day: date) -> dict:
    """dbt source freshness, stored and alerted; a blocking source past its error limit stops the run."""
    from panro.freshness import run_freshness

    result = run_freshness(warehouse_url(), run_id=context["run_id"], business_day=business_day)
    if not result.success:
        raise GateStopped(f"stale sources for {business_day}: " + "; ".join(result.failures))
    return {"sources": len(result.validations), "warnings": result.warnings}


def write_verified_extract(context, business_day: date) -> dict:
    """Write the day's extract, then check it against the ledger (files, checksums, rows = decisions)."""
    from panro.config import load_settings
    from panro.extract import write_daily_extract
    from panro.quality import verify_extract

    outbox = load_settings().outbox_dir
    manifest = write_daily_extract(warehouse_url(), outbox, business_day)
    checked = verify_extract(warehouse_url(), outbox, business_day, run_id=context["run_id"])
    if not checked.success:
        raise GateStopped(
            f"extract of {business_day} does not match the ledger: " + "; ".join(checked.failures)
        )
    return {
        "files": len(manifest["files"]) if manifest else 0,
        "folder": str(outbox / business_day.isoformat()),
    }


def round_to_decide(context) -> dict:
    """The round a transform run decides. Refused while an earlier round's decisions sit unpublished in
    the ledger (its publish gate failed): that day is rerun first (docs/operations.md)."""
    from panro.quality import unpublished_rounds

    day = triggered_business_day(context)
    earlier = unpublished_rounds(warehouse_url(), before=day)
    if earlier:
        raise AirflowFailException(
            f"cannot decide {day}: the decisions of {', '.join(map(str, earlier))} were never published "
            "(their publish gate failed); rerun those days first"
        )
    # Only what identifies the round travels between tasks; the seed and the salt are configuration
    # that run_dbt adds itself (the salt must not land in XCom).
    return {"round_date": day.isoformat(), "run_id": context["run_id"]}
