"""The Great Expectations quality gates: landing, transformed and publish (DESIGN.md, "Data quality").

``run_gate`` runs the suites of a gate (code in ``expectations/``, see that package) against the
warehouse with an ephemeral GX context: nothing is written but the Data Docs. Every validation's
outcome goes to ``ops.validation_results``; warnings are logged and alerted (``quality_warning``),
hard failures too (``gate_failed``). ``enforce`` turns a failed gate into ``GateFailed``, so the task
that runs it fails and what comes after it does not run. After a passing publish gate the decisions
of the ledger are recorded in ``ops.published_decisions``; later publish gates check that none of
them changed.

Great Expectations is imported only when a gate runs (it takes seconds to import).
"""

from __future__ import annotations

import csv
import hashlib
import html
import importlib
import importlib.util
import io
import json
import logging
import shutil
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import quote, unquote, urlparse

import psycopg
from psycopg import sql
from psycopg.types.json import Jsonb

from panro.alerts import send_alert
from panro.config import project_home
from panro.warehouse import connect, ensure_schema

log = logging.getLogger(__name__)

GATES = ("landing", "transformed", "publish")
GATE_TITLES = {
    "landing": "적재 게이트 (landing)",
    "transformed": "변환 게이트 (transformed)",
    "publish": "공표 게이트 (publish)",
}
SUITES_PACKAGE = "panro_expectations"  # the expectations/ folder, loaded under this name
DOCS_SITE = "panro"
# SUMMARY: counts and the first values that broke a map expectation, not every row of the batch.
RESULT_FORMAT = {"result_format": "SUMMARY", "partial_unexpected_count": 10}
# A batch is first judged pass or fail only; a batch that fails anything is validated again in
# SUMMARY. Fetching the broken values of every expectation that passed was a third of a gate's time.
VERDICT_FORMAT = {"result_format": "BOOLEAN_ONLY"}
SAMPLE_ROWS = 5  # rows shown for a failed unexpected-rows expectation
# A ratio threshold (`mostly` < 1) stops the run only on a batch of at least this many rows.
MIN_RATIO_SAMPLE = 20
ALERT_MESSAGES = 20  # messages carried by one alert (the rest are in ops.validation_results)


# --- results --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Validation:
    """The outcome of one suite on one batch, as stored in ``ops.validation_results``."""

    suite: str
    batch: str
    table: str
    load_id: str | None
    evaluated: int
    failed: list[dict] = field(default_factory=list)  # {type, column, observed, severity, description}

    @property
    def hard_failures(self) -> list[dict]:
        return [f for f in self.failed if f["severity"] == "hard"]

    @property
    def warnings(self) -> list[dict]:
        return [f for f in self.failed if f["severity"] != "hard"]

    @property
    def success(self) -> bool:
        return not self.hard_failures


@dataclass(frozen=True)
class GateResult:
    gate: str
    success: bool  # no hard failure
    failures: list[str]
    warnings: list[str]
    docs_index: Path | None
    validations: list[Validation] = field(default_factory=list)
    duration_s: float = 0.0


class GateFailed(RuntimeError):
    def __init__(self, result: GateResult) -> None:
        self.result = result
        shown = "; ".join(result.failures[:5])
        more = f" (and {len(result.failures) - 5} more)" if len(result.failures) > 5 else ""
        super().__init__(f"{result.gate} gate failed: {shown}{more}")


def enforce(result: GateResult) -> GateResult:
    """Raise ``GateFailed`` when the gate had a hard failure; else hand the result back."""
    if not result.success:
        raise GateFailed(result)
    return result


def default_docs_dir() -> Path:
    """Where the Data Docs live in the local state folder (the DAGs pass it as ``docs_dir``)."""
    from panro.config import load_settings

    return load_settings().state_dir / "data_docs"


# --- connecting GX and loading the suites ---------------------------------------------------------


def gx_connection_string(url: str) -> str:
    """The warehouse URL as GX's Postgres data source takes it (SQLAlchemy with psycopg2).

    GX refuses a URL without a host, which is what a Unix-socket URL is
    (``postgresql://postgres:@/postgres?host=/dir``): the host becomes ``localhost`` and the socket
    folder stays in ``?host=``, which libpq prefers over the host of the URL. A TCP URL keeps its host."""
    parsed = urlparse(url)
    if parsed.scheme.split("+")[0] not in ("postgresql", "postgres"):
        raise ValueError(f"not a PostgreSQL URL: {parsed.scheme}://…")
    auth = quote(unquote(parsed.username or "postgres"), safe="")
    if parsed.password:
        auth += ":" + quote(unquote(parsed.password), safe="")
    host = parsed.hostname or "localhost"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parsed.port}" if parsed.port else ""
    path = parsed.path if parsed.path not in ("", "/") else "/postgres"
    query = f"?{parsed.query}" if parsed.query else ""
    return f"postgresql+psycopg2://{auth}@{host}{port}{path}{query}"


def load_suites(home: Path | None = None) -> ModuleType:
    """The suites package (``<project home>/expectations``) with its gate modules imported."""
    module = sys.modules.get(SUITES_PACKAGE)
    if module is None:
        folder = (home or project_home()) / "expectations"
        spec = importlib.util.spec_from_file_location(
            SUITES_PACKAGE, folder / "__init__.py", submodule_search_locations=[str(folder)]
        )
        if spec is None or spec.loader is None:
            raise ImportError(f"no expectations package in {folder}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[SUITES_PACKAGE] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[SUITES_PACKAGE]
            raise
    for gate in GATES:
        importlib.import_module(f"{SUITES_PACKAGE}.{gate}")
    return module


# --- which batches a gate validates ---------------------------------------------------------------


def landing_loads(
    url: str, *, run_id: str, business_day: date, load_ids: list[str] | None
) -> list[tuple[str, str]]:
    """``(raw table, load_id)`` of the loads to validate: the ones given, else the successful loads
    of ``run_id`` in the load ledger, else those started on ``business_day`` (KST). A load missing
    from the ledger is looked up in the raw tables; loads that failed or were refused are skipped
    (they landed nothing), and so are loads a person accepted after an earlier failed gate."""
    landing = load_suites().landing
    with connect(url) as conn:
        accepted = {r[0] for r in conn.execute("select load_id from ops.load_acceptances").fetchall()}
        if load_ids is None:
            rows = conn.execute(
                """select load_id, source from ops.load_ledger
                    where outcome = 'success' and run_id = %s order by started_at, load_id""",
                (run_id,),
            ).fetchall()
            if not rows:
                rows = conn.execute(
                    """select load_id, source from ops.load_ledger
                        where outcome = 'success'
                          and cast(started_at at time zone 'Asia/Seoul' as date) = %s
                        order by started_at, load_id""",
                    (business_day,),
                ).fetchall()
            return [
                (landing.table_for_source(source), load_id)
                for load_id, source in rows
                if load_id not in accepted
            ]
        found: list[tuple[str, str]] = []
        for load_id in load_ids:
            if load_id in accepted:
                log.info("landing gate: load %s was accepted by a person, not validated again", load_id)
                continue
            row = conn.execute(
                "select source, outcome from ops.load_ledger where load_id = %s", (load_id,)
            ).fetchone()
            if row is not None:
                if row[1] != "success":
                    log.info("landing gate: load %s ended %s, nothing to validate", load_id, row[1])
                else:
                    found.append((landing.table_for_source(row[0]), load_id))
                continue
            for table in landing.TABLES:
                hit = conn.execute(
                    sql.SQL("select 1 from {} where load_id = %s limit 1").format(
                        sql.Identifier(*table.split("."))
                    ),
                    (load_id,),
                ).fetchone()
                if hit:
                    found.append((table, load_id))
                    break
            else:
                raise ValueError(f"load {load_id!r} is neither in ops.load_ledger nor in any raw table")
    return found


def gate_checks(url: str, gate: str, *, run_id: str, business_day: date, load_ids: list[str] | None) -> list:
    suites = load_suites()
    if gate == "landing":
        by_table: dict[str, list[str]] = {}
        for table, load_id in landing_loads(url, run_id=run_id, business_day=business_day, load_ids=load_ids):
            by_table.setdefault(table, []).append(load_id)
        return [check for table, ids in by_table.items() for check in suites.landing.checks(table, ids)]
    if gate == "transformed":
        return suites.transformed.checks(business_day)
    return suites.publish.checks(business_day)


# --- running a gate -------------------------------------------------------------------------------


def run_gate(
    url: str,
    gate: str,
    *,
    run_id: str,
    business_day: date,
    load_ids: list[str] | None = None,
    docs_dir: Path | None = None,
) -> GateResult:
    """Run the suites of ``gate`` ("landing", "transformed" or "publish"), store each validation in
    ``ops.validation_results``, rebuild the gate's Data Docs under ``docs_dir`` and alert.

    ``landing`` validates the loads ``load_ids`` (default: those of ``run_id``, else of the day);
    the other gates validate the models as dbt left them for ``business_day``."""
    if gate not in GATES:
        raise ValueError(f"unknown gate {gate!r}; expected one of {GATES}")
    started = time.monotonic()
    validated_at = datetime.now(UTC)
    ensure_schema(url)
    checks = gate_checks(url, gate, run_id=run_id, business_day=business_day, load_ids=load_ids)
    if not checks:
        log.info("%s gate: nothing to validate for run %s (%s)", gate, run_id, business_day)
        return GateResult(gate, True, [], [], None, [], round(time.monotonic() - started, 3))

    site_dir, site_title = None, None
    if docs_dir is not None:
        tables = sorted({check.table for check in checks})
        site = gate if gate != "landing" or len(tables) != 1 else f"landing-{tables[0].split('.', 1)[1]}"
        site_dir = Path(docs_dir) / site
        site_title = f"판로 데이터 품질 · {GATE_TITLES[gate]}" + (f" · {tables[0]}" if site != gate else "")

    validations = _validate(
        url, checks, run_id=run_id, validated_at=validated_at, site_dir=site_dir, site_title=site_title
    )
    success = all(v.success for v in validations)
    failures = [_message(v, f) for v in validations for f in v.hard_failures]
    warnings = [_message(v, f) for v in validations for f in v.warnings]
    # the results and, after a passing publish gate, the decisions it published: one transaction
    snapshot = load_suites().publish.SNAPSHOT_SQL if gate == "publish" and success else None
    _store(
        url,
        gate,
        validations,
        run_id=run_id,
        business_day=business_day,
        validated_at=validated_at,
        snapshot=snapshot,
    )

    docs_index = None
    if site_dir is not None:
        docs_index = site_dir / "index.html"
        _write_overview(
            Path(docs_dir),
            site_dir,
            {
                "gate": gate,
                "title": site_title,
                "success": success,
                "failures": len(failures),
                "warnings": len(warnings),
                "validations": len(validations),
                "run_id": run_id,
                "business_day": business_day.isoformat(),
                "validated_at": validated_at.isoformat(timespec="seconds"),
            },
        )
    result = GateResult(
        gate, success, failures, warnings, docs_index, validations, round(time.monotonic() - started, 3)
    )
    _report(result, run_id=run_id, business_day=business_day)
    return result


def _validate(
    url: str,
    checks: list,
    *,
    run_id: str,
    validated_at: datetime,
    site_dir: Path | None,
    site_title: str | None,
) -> list[Validation]:
    import great_expectations as gx
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    reflect_query_batches_without_rows()
    count_unexpected_rows_for_a_verdict()
    read_expectation_kwargs_once()
    sites = {}
    if site_dir is not None:
        if site_dir.exists():
            shutil.rmtree(site_dir)  # rebuilt each run: the site shows this run of the gate
        sites[DOCS_SITE] = {
            "class_name": "SiteBuilder",
            "site_name": site_title,
            "show_how_to_buttons": False,
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            data_docs_sites=sites,
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
    )
    # GX 1.24 writes an ephemeral context's whole configuration out as YAML, to an in-memory store
    # nothing reads back, at every asset added: a gate of n loads (3 assets each) paid n^2 dumps
    # (a tenth of a landing gate of 142 files). Only this context's copy is skipped.
    context._save_project_config = lambda: None
    source = context.data_sources.add_postgres(name="warehouse", connection_string=gx_connection_string(url))
    gx_run = gx.RunIdentifier(run_name=run_id, run_time=validated_at)
    suites: dict[str, Any] = {}
    assets: set[str] = set()
    out = []
    try:
        for check in checks:
            # the batch, and which of its suites (landing.raw.x.fields -> "fields") when not the main one
            kind = check.suite.name.split(".", 1)[-1].removeprefix(check.table).lstrip(".")
            name = base = f"{check.batch} [{kind}]" if kind else check.batch
            n = 2
            while name in assets:
                name, n = f"{base} ({n})", n + 1
            assets.add(name)
            out.extend(_run_check(gx, context, source, check, name, suites, gx_run, url))
        if sites:
            context.build_data_docs(site_names=[DOCS_SITE])
    finally:
        if getattr(source, "_engine", None) is not None:
            source.get_engine().dispose()
    return out


def reflect_query_batches_without_rows() -> None:
    """Every column expectation needs its batch's column names. For a query batch GX 1.24 finds
    them in ``column_reflection_fallback`` by running the whole query and fetching every row into
    this process, once per validation: for the landing batch of 250,000 portal records, 9 of the
    gate's 21 s and half a gigabyte (3 GB for L's 1.25 million). Here the names come from the same
    query under ``limit 0``, which runs none of its rows; tables are left to GX, which reflects them
    from the catalogue. Installed once; tests/test_quality.py holds that GX still reads the names
    through this function."""
    import sqlalchemy as sa
    from great_expectations.expectations.metrics import util

    fallback = util.column_reflection_fallback
    if getattr(fallback, "reads_no_rows", False):
        return

    def column_names(selectable, dialect, sqlalchemy_engine, schema_name=None):
        if not isinstance(selectable, sa.TextClause):
            return fallback(selectable, dialect, sqlalchemy_engine, schema_name)
        query = selectable.text.strip().rstrip(";")
        engine = sqlalchemy_engine.engine
        with engine.connect() if isinstance(engine, sa.Engine) else engine as connection:
            result = connection.execute(sa.text(f"select * from ({query}) as batch limit 0"))
            return [{"name": name} for name in result.keys()]

    column_names.reads_no_rows = True  # type: ignore[attr-defined]
    util.column_reflection_fallback = column_names


def read_expectation_kwargs_once() -> None:
    """GX 1.24 looks up each domain and success argument of an expectation in ``configuration``, a
    property that builds the whole configuration again (a pydantic ``dict()``) for every key read:
    about 20 builds per expectation and metric, a sixth of a gate's time. Here the two lookups build
    it once per call and read every key from it, with GX's own defaults; what they return is the same.
    Installed once; tests/test_quality.py holds that the kwargs equal GX's own for every expectation
    of the gates."""
    from great_expectations.expectations.expectation import Expectation

    if getattr(Expectation, "reads_kwargs_once", False):
        return

    def read(expectation, keys) -> dict:
        kwargs = expectation.configuration.kwargs
        return {key: kwargs.get(key, expectation._get_default_value(key)) for key in keys}

    def _get_domain_kwargs(self) -> dict:
        return read(self, self.domain_keys)

    def _get_success_kwargs(self) -> dict:
        return read(self, self.success_keys) | self._get_domain_kwargs()

    # GX's own, for the test that compares them
    _get_domain_kwargs.gx = Expectation._get_domain_kwargs  # type: ignore[attr-defined]
    _get_success_kwargs.gx = Expectation._get_success_kwargs  # type: ignore[attr-defined]
    Expectation._get_domain_kwargs = _get_domain_kwargs
    Expectation._get_success_kwargs = _get_success_kwargs
    Expectation.reads_kwargs_once = True


def count_unexpected_rows_for_a_verdict() -> None:
    """GX 1.24's query checks (``UnexpectedRowsExpectation``) compute two metrics of their query: the
    rows it returns (up to 200, for the result) and their count (for the verdict). Each runs the
    query, so every query check ran its query twice, also when judged pass or fail only (BOOLEAN_ONLY),
    where the rows are not shown. The transformed gate's checks join whole models (at L, 17 of its
    55 s were these second runs). Here a verdict-only validation computes the count alone; a batch
    that fails is validated again in SUMMARY (``_run_check``), with its rows. Installed once;
    tests/test_quality.py holds that a passing check runs its query once and a failing one shows
    its rows."""
    from great_expectations.core.result_format import ResultFormat
    from great_expectations.expectations.core.unexpected_rows_expectation import (
        UnexpectedRowsExpectation as Expectation,
    )

    if getattr(Expectation, "counts_for_a_verdict", False):
        return
    dependencies, validate = Expectation.get_validation_dependencies, Expectation._validate
    rows = "unexpected_rows_query.table"

    def verdict_only(expectation, runtime_configuration) -> bool:
        result_format = expectation._get_result_format(runtime_configuration=runtime_configuration)
        if isinstance(result_format, dict):
            result_format = result_format.get("result_format")
        return result_format == ResultFormat.BOOLEAN_ONLY

    def get_validation_dependencies(self, execution_engine=None, runtime_configuration=None):
        needed = dependencies(
            self, execution_engine=execution_engine, runtime_configuration=runtime_configuration
        )
        if verdict_only(self, runtime_configuration):
            needed.remove_metric_configuration(rows)
        return needed

    def _validate(self, metrics, runtime_configuration=None, execution_engine=None):
        if rows not in metrics:
            return {"success": metrics["unexpected_rows_query.row_count"] == 0}
        return validate(
            self, metrics, runtime_configuration=runtime_configuration, execution_engine=execution_engine
        )

    Expectation.get_validation_dependencies = get_validation_dependencies
    Expectation._validate = _validate
    Expectation.counts_for_a_verdict = True


def _per_load(check, evaluated: int, failed: list[dict]) -> list[Validation]:
    """A check's outcome as stored: once per load it covers (a check of a table holds for each of the
    loads it read: a failure refuses them all), else once."""
    if not check.load_ids:
        return [Validation(check.suite.name, check.batch, check.table, None, evaluated, failed)]
    return [
        Validation(check.suite.name, f"{check.table}@{load_id}", check.table, load_id, evaluated, failed)
        for load_id in check.load_ids
    ]


def _run_check(
    gx, context, source, check, asset_name: str, suites: dict, gx_run, url: str
) -> list[Validation]:
    started = time.monotonic()
    try:
        suite = suites.get(check.suite.name)
        if suite is None:
            suite = suites[check.suite.name] = context.suites.add(check.suite)
        if check.query is not None:
            asset = source.add_query_asset(asset_name, query=check.query)
        else:
            schema, table = check.table.split(".", 1)
            asset = source.add_table_asset(asset_name, table_name=table, schema_name=schema)
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(
                name=f"{check.suite.name} @ {asset_name}",
                data=asset.add_batch_definition_whole_table("batch"),
                suite=suite,
            )
        )
        result = definition.run(run_id=gx_run, result_format=VERDICT_FORMAT)
        if not all(r.success for r in result.results):
            # the details of this run replace the verdict-only result, in Data Docs too (same key)
            result = definition.run(run_id=gx_run, result_format=RESULT_FORMAT)
        for r in result.results:  # GX reports an expectation whose query raised inside its result
            message = _exception_message(r.exception_info) or ""
            if "OperationalError" in message or "InterfaceError" in message:
                raise ConnectionError(f"{check.suite.name}: the database went away: {message[:300]}")
    except Exception as exc:  # a missing model, a broken query: the check could not run, which fails
        if _lost_connection(exc):
            raise  # the database went away: a transient fault the task's retries cover, not a verdict
        log.exception("%s on %s could not run", check.suite.name, check.batch)
        return _per_load(
            check,
            0,
            [
                {
                    "type": "validation_error",
                    "column": None,
                    "observed": {"error": f"{type(exc).__name__}: {exc}"[:2000]},
                    "severity": "hard",
                    "description": "검증을 실행하지 못함 (the validation could not run)",
                }
            ],
        )
    failed_results = [r for r in result.results if not r.success]
    # A breach of a tiered threshold fails both tiers: report the hard one only.
    hard_tiers = {
        (r.expectation_config.meta or {}).get("tier")
        for r in failed_results
        if _severity(r.expectation_config) == "hard"
    } - {None}
    failed = [
        _failed(r, check, url)
        for r in failed_results
        if _severity(r.expectation_config) == "hard"
        or (r.expectation_config.meta or {}).get("tier") not in hard_tiers
    ]
    log.info(
        "%s on %s: %d expectations, %d failed, %.2fs",
        check.suite.name,
        check.batch,
        len(result.results),
        len(failed),
        time.monotonic() - started,
    )
    return _per_load(check, len(result.results), failed)


def _lost_connection(exc: BaseException) -> bool:
    """Whether the exception (or its cause) is the database connection failing, not the check."""
    import sqlalchemy.exc

    while exc is not None:
        if isinstance(
            exc, (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, psycopg.OperationalError)
        ):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _failed(r, check, url: str) -> dict:
    config = r.expectation_config
    kwargs = dict(config.kwargs)
    column = kwargs.get("column")
    if column is None and "column_A" in kwargs:
        column = f"{kwargs['column_A']}, {kwargs['column_B']}"
    if column is None and "column_list" in kwargs:
        column = ", ".join(kwargs["column_list"])
    severity = _severity(config)
    description = (config.description or "").split("] ", 1)[-1] or None
    error = _exception_message(r.exception_info)
    if error:
        observed: Any = {"error": error}
    elif config.type == "unexpected_rows_expectation":
        observed = {
            "unexpected_rows": (r.result or {}).get("observed_value"),
            "sample": _sample_rows(url, kwargs["unexpected_rows_query"], check),
        }
    else:
        observed = _observed(r.result or {})
    entry = {
        "type": config.type,
        "column": column,
        "observed": observed,
        "severity": severity,
        "description": description,
    }
    if kwargs.get("mostly") is not None:
        entry["mostly"] = kwargs["mostly"]
        rows = (r.result or {}).get("element_count")
        if severity == "hard" and kwargs["mostly"] < 1 and rows is not None and rows < MIN_RATIO_SAMPLE:
            # A share of a handful of rows says little (1 bad of 3 is 33%): below the sample a ratio
            # breach warns instead of stopping the run. Zero-tolerance checks (mostly = 1) still stop.
            entry["severity"] = "warning"
            entry["description"] = f"{description} (표본 {rows}건 < {MIN_RATIO_SAMPLE}건: 경고만)"
    return _json_safe(entry)


def _severity(config) -> str:
    """GX's ``critical`` is a hard failure; ``warning`` and ``info`` are warnings."""
    return "hard" if str(getattr(config.severity, "value", config.severity)) == "critical" else "warning"


def _exception_message(info) -> str | None:
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))[:2000]
    for value in info.values():  # keyed by metric when several metrics raised
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))[:2000]
    return None


def _observed(result: dict) -> Any:
    if "unexpected_count" in result:
        percent = result.get("unexpected_percent")
        return {
            "unexpected": result.get("unexpected_count"),
            "of": result.get("element_count"),
            "percent": round(percent, 2) if percent is not None else None,
            "examples": list(dict.fromkeys(_json_safe(result.get("partial_unexpected_list") or [])))[:10],
        }
    if "observed_value" in result:
        details = result.get("details")
        if details:
            return {"value": result["observed_value"], "details": details}
        return result["observed_value"]
    return result or None


def _sample_rows(url: str, query: str, check) -> list[dict] | None:
    """The first rows an unexpected-rows query returns, to name what broke (run again outside GX:
    its SUMMARY results carry only the count)."""
    batch = check.table if check.query is None else f"({check.query})"
    try:
        with connect(url) as conn:
            cur = conn.execute(
                f"select * from ({query.format(batch=batch)}) as unexpected limit {SAMPLE_ROWS}"
            )
            names = [d.name for d in cur.description or []]
            return [dict(zip(names, row)) for row in cur.fetchall()]
    except Exception as exc:
        log.warning("could not sample the rows of %s: %s", check.suite.name, exc)
        return None


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, ensure_ascii=False, default=str))


def _observed_text(observed: Any) -> str:
    if isinstance(observed, dict) and "unexpected" in observed and "of" in observed:
        text = f"{observed['unexpected']} of {observed['of']} rows unexpected ({observed['percent']}%)"
        if observed.get("examples"):
            text += f", e.g. {json.dumps(observed['examples'][:5], ensure_ascii=False)}"
        return text
    if isinstance(observed, dict) and "unexpected_rows" in observed:
        text = f"{observed['unexpected_rows']} unexpected rows"
        if observed.get("sample"):
            text += f", e.g. {json.dumps(observed['sample'][:3], ensure_ascii=False)}"
        return text
    text = json.dumps(observed, ensure_ascii=False)
    return text if len(text) <= 400 else text[:397] + "..."


def _message(v: Validation, f: dict) -> str:
    what = f["type"] + (f"({f['column']})" if f.get("column") else "")
    mostly = f" at mostly={f['mostly']}" if f.get("mostly") is not None else ""
    return f"{v.batch}: {what}{mostly} [{f['description']}] observed {_observed_text(f['observed'])}"


# --- storing, docs, alerts ------------------------------------------------------------------------


def _store(
    url: str,
    gate: str,
    validations: list[Validation],
    *,
    run_id: str,
    business_day: date,
    validated_at: datetime,
    snapshot: str | None,
) -> None:
    with connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            """insert into ops.validation_results
                   (validated_at, gate, suite, batch, table_name, load_id, run_id, business_day, success,
                    evaluated, hard_failures, warnings, failed_expectations)
               values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            [
                (
                    validated_at,
                    gate,
                    v.suite,
                    v.batch,
                    v.table,
                    v.load_id,
                    run_id,
                    business_day,
                    v.success,
                    v.evaluated,
                    len(v.hard_failures),
                    len(v.warnings),
                    Jsonb(v.failed),
                )
                for v in validations
            ],
        )
        if snapshot is not None:
            cur.execute(snapshot, {"run_id": run_id, "business_day": business_day})
            log.info("publish gate: %d decisions recorded as published", cur.rowcount)


def _write_overview(docs_dir: Path, site_dir: Path, summary: dict) -> None:
    """``<site>/gate.json`` for this run, and ``docs_dir/index.html``: every gate's latest run, in Korean."""
    site_dir.mkdir(parents=True, exist_ok=True)
    (site_dir / "gate.json").write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    rows = []
    summaries = [
        (json.loads(path.read_text(encoding="utf-8")), path) for path in docs_dir.glob("*/gate.json")
    ]
    summaries.sort(key=lambda item: (GATES.index(item[0]["gate"]), item[1].parent.name))
    for s, path in summaries:
        status = "통과" if s["success"] else "실패"
        rows.append(
            "<tr class='{cls}'><td><a href='{href}/index.html'>{title}</a></td><td>{status}</td>"
            "<td>{failures}</td><td>{warnings}</td><td>{validations}</td><td>{day}</td><td>{run}</td>"
            "<td>{at}</td></tr>".format(
                cls="ok" if s["success"] else "fail",
                href=html.escape(path.parent.name),
                title=html.escape(s.get("title") or path.parent.name),
                status=status,
                failures=s["failures"],
                warnings=s["warnings"],
                validations=s["validations"],
                day=html.escape(s["business_day"]),
                run=html.escape(s["run_id"]),
                at=html.escape(s["validated_at"]),
            )
        )
    page = f"""<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>판로 데이터 품질 게이트</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:.3em .6em}}tr.fail td{{background:#fde2e2}}tr.ok td{{background:#e6f4ea}}</style>
</head><body>
<h1>판로 데이터 품질 게이트</h1>
<p>각 게이트의 가장 최근 실행입니다. 실패(중단)는 이후 단계를 멈추고, 경고는 알림만 보냅니다.
모든 실행 결과는 웨어하우스의 <code>ops.validation_results</code>에 있습니다.</p>
<table><tr><th>게이트</th><th>결과</th><th>실패(중단)</th><th>경고</th><th>검증 수</th><th>업무일</th>
<th>실행</th><th>검증 시각 (UTC)</th></tr>
{chr(10).join(rows)}
</table></body></html>
"""
    (docs_dir / "index.html").write_text(page, encoding="utf-8")


def _report(result: GateResult, *, run_id: str, business_day: date) -> None:
    docs = str(result.docs_index) if result.docs_index else None
    for message in result.warnings:
        log.warning("%s gate warning: %s", result.gate, message)
    if result.warnings:
        send_alert(
            "quality_warning",
            gate=result.gate,
            run_id=run_id,
            business_day=business_day.isoformat(),
            count=len(result.warnings),
            warnings=result.warnings[:ALERT_MESSAGES],
            docs=docs,
        )
    for message in result.failures:
        log.error("%s gate failure: %s", result.gate, message)
    if result.failures:
        send_alert(
            "gate_failed",
            gate=result.gate,
            run_id=run_id,
            business_day=business_day.isoformat(),
            count=len(result.failures),
            failures=result.failures[:ALERT_MESSAGES],
            warnings=len(result.warnings),
            docs=docs,
        )
    log.info(
        "%s gate: %s, %d validations, %d failures, %d warnings in %.1fs",
        result.gate,
        "passed" if result.success else "FAILED",
        len(result.validations),
        len(result.failures),
        len(result.warnings),
        result.duration_s,
    )


# --- the extract against the ledger ---------------------------------------------------------------


def verify_extract(url: str, outbox: Path, day: date, *, run_id: str) -> GateResult:
    """Check the day's extract as written against the decision ledger: every file in the manifest is on
    disk with its SHA-256, its CSV holds the rows the manifest says, and each sub-programme's rows equal
    its decisions of the day (no extract when there were none). Stored as suite ``publish.extract``;
    a mismatch is a hard failure, alerted."""
    started = time.monotonic()
    validated_at = datetime.now(UTC)
    with connect(url) as conn:
        decided = dict(
            conn.execute(
                """select program_code, count(*) from marts.fct_allocation_decision
                    where round_date = %s group by program_code""",
                (day,),
            ).fetchall()
        )
    folder = Path(outbox) / day.isoformat()
    manifest_path = folder / "manifest.json"
    manifest = (
        json.loads(manifest_path.read_text(encoding="utf-8")) if manifest_path.exists() else {"files": []}
    )
    failed: list[dict] = []

    def fail(what: str, observed: dict) -> None:
        failed.append(
            {
                "type": "extract_matches_ledger",
                "column": None,
                "observed": observed,
                "severity": "hard",
                "description": what,
            }
        )

    extracted: dict[str, int] = {}
    for entry in manifest["files"]:
        path = folder / entry["file"]
        if not path.exists():
            fail("file in the manifest is missing", {"file": entry["file"]})
            continue
        data = path.read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            fail("file differs from its manifest SHA-256", {"file": entry["file"]})
        if path.suffix == ".csv":
            rows = len(list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))) - 1
            if rows != entry["rows"]:
                fail(
                    "CSV rows differ from the manifest",
                    {"file": entry["file"], "csv": rows, "manifest": entry["rows"]},
                )
            extracted[entry["program_code"]] = extracted.get(entry["program_code"], 0) + rows
    for program in sorted(set(decided) | set(extracted)):
        if decided.get(program, 0) != extracted.get(program, 0):
            fail(
                "extract rows differ from the decisions of the day",
                {
                    "program_code": program,
                    "decisions": decided.get(program, 0),
                    "extract_rows": extracted.get(program, 0),
                },
            )
    validation = Validation(
        suite="publish.extract",
        batch=f"extract {day.isoformat()}",
        table="marts.fct_allocation_decision",
        load_id=None,
        evaluated=len(manifest["files"]) + len(decided),
        failed=failed,
    )
    _store(
        url,
        "publish",
        [validation],
        run_id=run_id,
        business_day=day,
        validated_at=validated_at,
        snapshot=None,
    )
    result = GateResult(
        "publish",
        validation.success,
        [_message(validation, f) for f in failed],
        [],
        None,
        [validation],
        round(time.monotonic() - started, 3),
    )
    _report(result, run_id=run_id, business_day=day)
    return result


def unpublished_rounds(url: str, *, before: date) -> list[date]:
    """Round days before ``before`` whose decisions are in the ledger but were never published (their
    publish gate failed). A later round must not be decided on top of them: the day is rerun first."""
    with connect(url) as conn:
        if conn.execute("select to_regclass('marts.fct_allocation_decision')").fetchone()[0] is None:
            return []
        rows = conn.execute(
            """select distinct d.round_date from marts.fct_allocation_decision d
                where d.round_date < %s
                  and not exists (select 1 from ops.published_decisions p
                                   where p.application_id = d.application_id and p.round_date = d.round_date)
                order by 1""",
            (before,),
        ).fetchall()
    return [r[0] for r in rows]


def accept_load(url: str, load_id: str, *, accepted_by: str, reason: str) -> None:
    """Record that a person looked at a load the landing gate refused and let it into the models."""
    if not reason.strip() or not accepted_by.strip():
        raise ValueError("accepting a load needs who accepts it and why")
    ensure_schema(url)
    with connect(url) as conn:
        if conn.execute("select 1 from ops.rejected_loads where load_id = %s", (load_id,)).fetchone() is None:
            raise ValueError(f"load {load_id!r} is not a load the landing gate refused (ops.rejected_loads)")
        conn.execute(
            "insert into ops.load_acceptances (load_id, accepted_by, reason) values (%s, %s, %s)",
            (load_id, accepted_by, reason),
        )
