"""The benchmark (issue 7): the pipeline at three sizes against the physical floor, and the daily run.

For each size (S = 20,000, M = 200,000, L = 1,000,000 applications; L only when asked) it:

1. generates a scenario (cached under ``<state>/bench/scenarios`` by size and seed) whose history holds
   about that many applications and whose last day, a weekday, brings about 2,000 more;
2. replays the history into an empty database (a new database on the bench's own embedded PostgreSQL,
   or on the server of ``WAREHOUSE_URL``), calling the same ``panro`` functions the DAG tasks call, one
   stage at a time: each source's ingest and landing gate, source freshness, dbt seed, dbt staging +
   intermediate, the transformed gate, dbt marts (allocation's own time, ``fct_allocation_decision``,
   read from dbt's run_results.json), the publish gate, the extract. Airflow's own per-task cost (a
   process, a DAG parse, XCom) does not depend on the data and is left out;
3. measures the floor on the same server in the same run: ``COPY`` of the same portal records (and the
   committee score files) into plain tables, then one hand-written SQL pass computing the main
   eligibility verdicts and each sub-programme's ranking;
4. runs the last day as the daily run on the warehouse now holding the history: the portal from its
   watermark, only the new partner files, the ledger's incremental append.

Per stage: wall time, rows, rows per second and peak memory (PSS of this process, its children (dbt)
and the PostgreSQL server's processes, sampled every 0.1 s; the simulated portal and tax office run in
a child process of their own and are not counted: they stand for remote systems). Results go to
``<state>/bench/<timestamp>.json`` and ``.md``, ``<state>/bench/latest.md`` and docs/benchmark.md.
"""

from __future__ import annotations

import argparse
import csv
import ctypes
import gc
import json
import logging
import os
import platform
import re
import secrets
import shutil
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import psycopg
from psycopg import sql

from panro.dbt import BUILD_MARTS, BUILD_STAGING_INTERMEDIATE, SEED, seed_if_changed
from panro.ingest import FILE_SOURCE_GROUPS
from panro.simulate_data import WEEKDAY_WEIGHTS  # how the simulator spreads applications over a week

SIZES = {"S": 20_000, "M": 200_000, "L": 1_000_000}
DAILY_NEW = 2_000
FIRST_DAY = date(2024, 3, 4)  # a Monday
KST = timezone(timedelta(hours=9))
# A sample reads every process's PSS and scans /proc twice for children: 9 to 15 ms of this process's
# CPU (and of its GIL, which in-process stages such as the portal load need). Every 0.1 s that was a
# tenth of a core taken from what is measured; every 0.25 s, about 5 %.
SAMPLE_S = 0.25
# The file ingest DAGs, in their order; a group is one DAG (reference: five lists).
FILE_GROUPS = FILE_SOURCE_GROUPS
APPLICATION_SOURCES = ("portal", "sbiz24", "kakao")
ALLOCATION_MODEL = "model.panro.fct_allocation_decision"
# The transform DAG's dbt tasks. Allocation (fct_allocation_decision) is built inside the marts task;
# its own time comes from dbt's run_results.json, so the marts are built as the DAG builds them.
DBT_STEPS = [
    ("dbt seed", SEED),
    ("dbt staging + intermediate", BUILD_STAGING_INTERMEDIATE),
    ("transformed gate", None),
    ("dbt marts + restricted", BUILD_MARTS),
]
TRANSFORM_STAGES = {name for name, args in DBT_STEPS if args is not None}


# --- scenario -----------------------------------------------------------------------------------------


def _weight(day_index: int) -> float:
    return WEEKDAY_WEIGHTS[(FIRST_DAY + timedelta(days=day_index)).weekday()]


def plan(applications: int, daily: int = DAILY_NEW) -> dict:
    """Days and total applications of the scenario of a size: ``applications`` in the history and about
    ``daily`` on its last day, a weekday (the simulator spreads applications by weekday weight)."""
    target = applications / daily  # history weight, in weekdays' worth of applications
    history_days, weight = 0, 0.0
    while weight < target or _weight(history_days) < 1.0:
        weight += _weight(history_days)
        history_days += 1
    per_weekday = applications / weight
    return {
        "history": applications,
        "days": history_days + 1,
        "total": applications + round(per_weekday),
        "history_last_day": FIRST_DAY + timedelta(days=history_days - 1),
        "daily_day": FIRST_DAY + timedelta(days=history_days),
    }


def cached_scenario(root: Path, applications: int, seed: int, daily: int = DAILY_NEW) -> tuple[Path, dict]:
    """The scenario of a size, generated once and kept under ``root`` (keyed by size, daily and seed)."""
    from panro.simulate import simulate

    p = plan(applications, daily)
    folder = root / f"n{applications}-d{daily}-s{seed}"
    meta_path = folder / "scenario.json"
    if not meta_path.exists():
        started = time.monotonic()
        simulate(
            folder,
            seed=seed,
            first_day=FIRST_DAY,
            days=p["days"],
            applications=p["total"],
            name=f"bench-{applications}",
        )
        print(f"  scenario {folder.name}: generated in {time.monotonic() - started:.0f}s", flush=True)
    return folder, p


def history_prefix_bytes(jsonl: Path, before: datetime) -> tuple[int, int]:
    """(bytes, lines) of the portal file's prefix updated before ``before``: the file is in updated_at
    order, so the history the full replay loads is a prefix of it."""
    stamp = re.compile(rb'"updated_at":"([^"]+)"')
    size = lines = 0
    with jsonl.open("rb") as f:
        for line in f:
            m = stamp.search(line)
            if m and datetime.fromisoformat(m[1].decode()) >= before:
                break
            size += len(line)
            lines += 1
    return size, lines


# --- simulated external systems in a child process --------------------------------------------------


class Simulators:
    """The simulated portal and tax office serving a scenario from a child process (not measured)."""

    def __init__(self, scenario: Path) -> None:
        self.token, self.key = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        env = {**os.environ, "PORTAL_TOKEN": self.token, "NTS_SERVICE_KEY": self.key}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "panro.bench", "serve", str(scenario)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the simulators did not start (exit {self.proc.wait()})")
        urls = json.loads(line)
        self.portal_url, self.nts_url = urls["portal"], urls["nts"]

    def set_clock(self, now: datetime) -> None:
        import requests

        for url in (self.portal_url, self.nts_url):
            requests.post(f"{url}/_sim/clock", json={"now": now.isoformat()}, timeout=30).raise_for_status()

    def close(self) -> None:
        if self.proc.stdin:
            self.proc.stdin.close()  # the child serves until its stdin closes
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def serve(scenario: Path) -> int:
    """Child process: serve ``scenario`` as portal and tax office on loopback until stdin closes."""
    from panro.servers.nts import NtsServer, NtsState
    from panro.servers.portal import PortalServer, PortalState

    with (
        PortalServer(PortalState.from_scenario(scenario, os.environ["PORTAL_TOKEN"])) as portal,
        NtsServer(NtsState.from_scenario(scenario, os.environ["NTS_SERVICE_KEY"])) as nts,
    ):
        print(json.dumps({"portal": portal.base_url, "nts": nts.base_url}), flush=True)
        for _ in sys.stdin:
            pass
    return 0


# --- measuring ----------------------------------------------------------------------------------------


def give_back_freed_memory() -> None:
    """Return to the operating system what earlier stages freed, before the next stage is measured. In
    Airflow every task is a fresh process; here one process runs them all, and without this the heap
    the replay grew (freed, but kept by the allocator) counted in every daily stage's peak."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the allocator keeps what it keeps
        pass


def postmaster_pid(url: str) -> int | None:
    """The local PostgreSQL server's main process, or None when the server is not on this machine."""
    import psutil

    with psycopg.connect(url) as conn:
        backend = conn.execute("select pg_backend_pid()").fetchone()[0]
        try:
            parent = psutil.Process(backend).parent()
        except psutil.Error:
            return None
    return parent.pid if parent is not None and "postgres" in parent.name() else None


class MemorySampler:
    """Peak memory (PSS, so that shared buffers count once) of this process and its children, minus
    ``exclude`` (the simulators), plus the PostgreSQL server's processes; sampled on a thread."""

    def __init__(self, postmaster: int | None, exclude: set[int]) -> None:
        import psutil

        self._psutil = psutil
        self._me = psutil.Process()
        self._postmaster = psutil.Process(postmaster) if postmaster else None
        self._exclude = set(exclude)
        self._lock = threading.Lock()
        self._peak = (0.0, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def _pss(self, proc) -> float:
        try:
            return proc.memory_full_info().pss / 1e6
        except self._psutil.Error:
            return 0.0

    def sample(self) -> tuple[float, float]:
        psutil = self._psutil
        ours = [self._me]
        try:
            children = self._me.children(recursive=True)
        except psutil.Error:
            children = []
        skip = set(self._exclude)
        for child in children:
            try:
                if child.pid in skip or child.ppid() in skip:
                    skip.add(child.pid)
                    continue
            except psutil.Error:
                continue
            ours.append(child)
        pipeline = sum(self._pss(p) for p in ours)
        server = 0.0
        if self._postmaster is not None:
            try:
                server = sum(self._pss(p) for p in [self._postmaster, *self._postmaster.children()])
            except psutil.Error:
                server = 0.0
        with self._lock:
            total = pipeline + server
            if total > self._peak[0] + self._peak[1]:
                self._peak = (pipeline, server)
        return pipeline, server

    def _run(self) -> None:
        while not self._stop.wait(SAMPLE_S):
            self.sample()

    def reset(self) -> None:
        with self._lock:
            self._peak = (0.0, 0.0)
        self.sample()

    def peak(self) -> tuple[float, float]:
        self.sample()
        with self._lock:
            return self._peak

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@dataclass
class Recorder:
    """Times stages. With a ``budget``, a gate still running after that many seconds has its queries
    in ``databases`` cancelled (over and over, until it ends) and is marked ``over_budget``: a check
    whose cost grows faster than the data (a scan per row) cannot hold the benchmark for hours."""

    sampler: MemorySampler
    server_url: str | None = None
    databases: tuple[str, ...] = ()
    budget: float | None = None
    stages: list[dict] = field(default_factory=list)

    def _guard(self, entry: dict, done: threading.Event) -> None:
        if done.wait(self.budget):
            return
        entry["over_budget"] = True
        while not done.is_set():
            try:
                with connect_db(self.server_url, autocommit=True) as conn:
                    conn.execute(
                        """select pg_cancel_backend(pid) from pg_stat_activity
                            where datname = any(%s) and state = 'active' and pid <> pg_backend_pid()""",
                        (list(self.databases),),
                    )
            except psycopg.Error:
                pass
            done.wait(0.05)

    @contextmanager
    def stage(self, name: str, group: str) -> Iterator[dict]:
        """Time one stage; the body fills ``rows`` (and any detail) in the yielded dict."""
        entry: dict = {"stage": name, "group": group, "rows": 0}
        give_back_freed_memory()
        self.sampler.reset()
        done = threading.Event()
        # Only gates: a gate that stops is recorded and the run goes on; a stopped dbt build would end it.
        if self.budget and self.server_url and self.databases and group == "gate":
            threading.Thread(target=self._guard, args=(entry, done), daemon=True).start()
        started = time.perf_counter()
        entry["seconds_so_far"] = lambda: time.perf_counter() - started
        try:
            yield entry
        except Exception as exc:
            entry["error"] = f"{type(exc).__name__}: {exc}"[:2000]
            raise
        finally:
            done.set()
            del entry["seconds_so_far"]
            entry["seconds"] = round(time.perf_counter() - started, 3)
            pipeline, server = self.sampler.peak()
            entry["peak_mb"] = round(pipeline + server, 1)
            entry["peak_postgres_mb"] = round(server, 1)
            entry["rows_per_s"] = round(entry["rows"] / entry["seconds"]) if entry["seconds"] > 0 else None
            self.stages.append(entry)
            note = f" ERROR {_cell(entry['error'], 160)}" if "error" in entry else ""
            note += " OVER BUDGET (queries cancelled)" if entry.get("over_budget") else ""
            note += (
                f" GATE FAILED: {_cell('; '.join(entry['failures'][:2]), 160)}"
                if entry.get("gate_failed")
                else ""
            )
            print(
                f"    {name:<44} {entry['seconds']:>8.2f}s {entry['rows']:>10} rows {entry['peak_mb']:>8.0f} MB{note}",
                flush=True,
            )


# --- the pipeline, stage by stage ---------------------------------------------------------------------


@dataclass
class Run:
    """One database being benchmarked, with the simulators of its scenario."""

    url: str
    scenario: Path
    sims: Simulators
    work: Path  # drop folder, outbox, Data Docs of this size
    recorder: Recorder

    @property
    def drop_dir(self) -> Path:
        return self.work / "drop"

    @property
    def outbox(self) -> Path:
        return self.work / "outbox"


def _kst_midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), KST)


def _gate(
    run: Run,
    name: str,
    gate: str,
    day: date,
    run_id: str,
    rows: int,
    load_id_batches: list[list[str] | None] | None = None,
) -> None:
    """One gate stage: ``run_gate`` once per batch of loads (a landing gate task per load task, as the
    DAGs have them), or once for the models (transformed, publish)."""
    from panro.quality import run_gate

    with run.recorder.stage(name, "gate") as st:
        st["rows"] = rows
        for load_ids in load_id_batches or [None]:
            result = run_gate(
                run.url,
                gate,
                run_id=run_id,
                business_day=day,
                load_ids=load_ids,
                docs_dir=run.work / "data_docs",
            )
            st["validations"] = st.get("validations", 0) + len(result.validations)
            _gate_outcome(st, result)


def _gate_outcome(st: dict, result) -> None:
    if not result.success:  # recorded, not raised: the benchmark goes on and says so
        st["gate_failed"] = True
        st.setdefault("failures", []).extend(result.failures[:5])
    st["warnings"] = st.get("warnings", 0) + len(result.warnings)


def pipeline(run: Run, phase: str, day: date, start: datetime, end: datetime) -> list[dict]:
    """Ingest [start, end) and decide round ``day``, stage by stage, as the DAG tasks do."""
    from panro.connectors.nts import NtsClient
    from panro.connectors.portal import PortalClient
    from panro.dbt import run_dbt
    from panro.extract import write_daily_extract
    from panro.freshness import run_freshness
    from panro.ingest.files import SOURCES, ingest_files
    from panro.ingest.nts import ingest_nts
    from panro.ingest.portal import ingest_portal
    from panro.quality import unpublished_rounds, verify_extract
    from panro.simulate import deliver_files

    rec = run.recorder
    first = len(rec.stages)
    run_id = f"bench__{phase}__{day.isoformat()}__{uuid.uuid4().hex[:6]}"
    # The external systems' side, not measured: their clocks at the end of the day, the files sent.
    run.sims.set_clock(_kst_midnight(day + timedelta(days=1)) - timedelta(microseconds=1))
    deliver_files(run.scenario, run.drop_dir, day)

    landed: dict[str, int] = {}
    with rec.stage("ingest portal", "ingest") as st:
        result = ingest_portal(run.url, PortalClient(run.sims.portal_url, run.sims.token), start, end, run_id)
        st.update(rows=result.rows_received, inserted=result.rows_inserted, bytes=result.bytes_received)
    landed["portal"] = result.rows_inserted
    _gate(run, "landing gate portal", "landing", day, run_id, result.rows_inserted, [[result.load_id]])

    for group, sources in FILE_GROUPS.items():
        results = {}
        with rec.stage(f"ingest {group}", "ingest") as st:
            for source in sources:
                results[source] = ingest_files(run.url, SOURCES[source], run.drop_dir, run_id)
            every = [r for rs in results.values() for r in rs]
            st.update(
                rows=sum(r.rows_received for r in every),
                inserted=sum(r.rows_inserted for r in every),
                bytes=sum(r.bytes_received for r in every),
                files=len(every),
                refused=sum(r.outcome == "refused" for r in every),
            )
        landed[group] = st["inserted"]
        batches = [[r.load_id for r in rs] for rs in results.values()]
        _gate(run, f"landing gate {group}", "landing", day, run_id, landed[group], batches)

    with rec.stage("ingest nts", "ingest") as st:
        result = ingest_nts(run.url, NtsClient(run.sims.nts_url, run.sims.key), day, run_id)
        st.update(rows=result.rows_received, inserted=result.rows_inserted, asked=result.message)
    landed["nts"] = result.rows_inserted
    _gate(run, "landing gate nts", "landing", day, run_id, result.rows_inserted, [[result.load_id]])

    # The transform: rows = application versions this run landed (every channel).
    versions = sum(landed[s] for s in APPLICATION_SOURCES)
    dbt_vars = {"round_date": day.isoformat(), "run_id": run_id}
    with rec.stage("resolve round", "transform") as st:
        earlier = unpublished_rounds(run.url, before=day)
        st["rows"] = versions
        if earlier:
            st["gate_failed"], st["failures"] = True, [f"unpublished rounds {earlier}"]
    with rec.stage("source freshness", "gate") as st:
        _gate_outcome(st, run_freshness(run.url, run_id=run_id, business_day=day))
        st["rows"] = versions
    for name, args in DBT_STEPS:
        if args is None:
            _gate(run, name, "transformed", day, run_id, versions)
            continue
        with rec.stage(name, "transform") as st:
            st["rows"] = versions
            # the seeds as the DAG loads them: only when they changed
            output = seed_if_changed(run.url, dbt_vars) if args is SEED else run_dbt(args, run.url, dbt_vars)
            if output is None:
                st["dbt"] = "seeds unchanged: not reloaded"
                continue
            st["dbt"] = _dbt_summary(output)
            st.update(dbt_timings(st["seconds_so_far"]()))
    with connect_db(run.url) as conn:
        decided = conn.execute(
            "select count(*) from marts.fct_allocation_decision where round_date = %s", (day,)
        ).fetchone()[0]
    _stage(rec.stages[first:], "dbt marts + restricted")["decisions"] = decided
    _gate(run, "publish gate", "publish", day, run_id, versions)
    with rec.stage("extract", "extract") as st:
        manifest = write_daily_extract(run.url, run.outbox, day)
        checked = verify_extract(run.url, run.outbox, day, run_id=run_id)
        files = (manifest or {}).get("files", [])
        st["rows"] = sum(f["rows"] for f in files if f["file"].endswith(".csv"))
        st["files"] = len(files)
        _gate_outcome(st, checked)
    return rec.stages[first:]


def dbt_timings(wall: float) -> dict:
    """What dbt's run_results.json of the last command says: its own elapsed time (the rest of the
    wall time is the process starting, loading the manifest, connecting), the slowest nodes, and
    the allocation model's time."""
    from panro.config import load_settings

    path = load_settings().state_dir / "dbt" / "target" / "run_results.json"
    try:
        results = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    nodes = [(r["unique_id"], float(r.get("execution_time") or 0.0)) for r in results.get("results", [])]
    elapsed = float(results.get("elapsed_time") or 0.0)
    out = {
        "dbt_elapsed_s": round(elapsed, 2),
        "dbt_startup_s": round(max(0.0, wall - elapsed), 2),
        "dbt_models_s": round(sum(t for u, t in nodes if u.startswith("model.")), 2),
        "dbt_tests_s": round(sum(t for u, t in nodes if u.startswith(("test.", "unit_test."))), 2),
        "dbt_nodes": len(nodes),
        "slowest_nodes": [
            [u.split(".", 2)[-1], round(t, 2)] for u, t in sorted(nodes, key=lambda n: -n[1])[:6]
        ],
    }
    allocation = [t for u, t in nodes if u == ALLOCATION_MODEL]
    if allocation:
        out["allocation_s"] = round(allocation[0], 2)
    return out


def _dbt_summary(output: str) -> str | None:
    m = re.search(r"Done\. (PASS=\d+ WARN=\d+ ERROR=\d+ SKIP=\d+[^\n]*)", output)
    return m[1].strip() if m else None


@contextmanager
def connect_db(url: str, autocommit: bool = False) -> Iterator[psycopg.Connection]:
    with psycopg.connect(url, autocommit=autocommit) as conn:
        yield conn


# --- the floor ----------------------------------------------------------------------------------------

FLOOR_SQL = r"""
create table floor_decisions as
with versions as (
    -- the fields the rules read, taken out of each version first: the sort below then moves small rows
    select record ->> 'application_id' as application_id,
           record ->> 'updated_at' as updated_at,
           record ->> 'program_code' as program_code,
           record ->> 'status' as status,
           record ->> 'submitted_at' as submitted_at_text,
           translate(record #>> '{business,brn}', ' -', '') as brn,
           record #>> '{business,ksic_code}' as ksic_code,
           coalesce((record #>> '{consents,privacy}') = 'true'
                    and (record #>> '{consents,third_party}') = 'true', false) as consented
      from floor_portal
     where record ->> 'application_id' is not null
),
apps as (
    select distinct on (application_id)
           application_id, program_code, status, brn, ksic_code, consented,
           case when submitted_at_text ~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}'
                     and pg_input_is_valid(submitted_at_text, 'timestamptz')
                then submitted_at_text::timestamptz end as submitted_at
      from versions
     order by application_id, updated_at desc
),
brn_checked as (
    select apps.*,
           brn ~ '^\d{10}$' and (10 - ((
               substr(brn, 1, 1)::int + substr(brn, 2, 1)::int * 3 + substr(brn, 3, 1)::int * 7
             + substr(brn, 4, 1)::int + substr(brn, 5, 1)::int * 3 + substr(brn, 6, 1)::int * 7
             + substr(brn, 7, 1)::int + substr(brn, 8, 1)::int * 3 + substr(brn, 9, 1)::int * 5
             + substr(brn, 9, 1)::int * 5 / 10) % 10)) % 10 = substr(brn, 10, 1)::int as brn_valid
      from apps
     where brn ~ '^\d{10}$'
    union all
    select apps.*, false from apps where brn is null or brn !~ '^\d{10}$'
),
industry as (
    select a.application_id,
           bool_or(not x.partial_flag and not exists (
               select 1 from floor_exceptions e
                where e.excluded_prefix = x.ksic_prefix and starts_with(a.ksic_code, e.ksic_prefix)
           )) as excluded,
           bool_or(x.partial_flag) as partial
      from apps a
     -- the code's prefixes of 2 to 5 digits, so the excluded list is a hash join, not a scan per code
     cross join lateral (values (left(a.ksic_code, 2)), (left(a.ksic_code, 3)), (left(a.ksic_code, 4)),
                                (left(a.ksic_code, 5))) as p(prefix)
      join floor_excluded x on x.ksic_prefix = p.prefix
     group by a.application_id
),
verdicts as (
    select b.*,
           case
               when not b.brn_valid or coalesce(i.excluded, false) or not b.consented
                    or b.submitted_at is null or b.status = 'withdrawn' or c.program_code is null
                   then 'ineligible'
               when b.ksic_code is null or b.ksic_code !~ '^\d{5}$' or coalesce(i.partial, false)
                   then 'needs_review'
               else 'eligible'
           end as verdict,
           c.selection_method,
           c.quota
      from brn_checked b
      left join industry i using (application_id)
      left join floor_catalogue c on c.program_code = b.program_code
),
reviewer_totals as (
    select application_id, reviewer_id, sum(score) as total
      from floor_scores
     group by application_id, reviewer_id
    having count(*) = 3 and bool_and(conflict_of_interest = 'N')
),
committee as (
    select application_id, round(avg(total), 2) as score from reviewer_totals group by application_id
),
ranked as (
    select v.application_id, v.program_code, v.verdict, v.selection_method, v.quota, s.score,
           v.selection_method = 'first_come' or s.score >= 60 as meets_min_score,
           case when v.verdict = 'eligible' and (v.selection_method = 'first_come' or s.score is not null)
                then row_number() over (
                    partition by v.program_code,
                                 v.verdict = 'eligible' and (v.selection_method = 'first_come' or s.score is not null)
                    order by case when v.selection_method = 'committee' then s.score end desc nulls last,
                             v.submitted_at, md5(:seed || v.application_id))
           end as rank
      from verdicts v
      left join committee s using (application_id)
),
filled as (
    select ranked.*,
           count(*) filter (where rank is not null and meets_min_score) over (
               partition by program_code order by rank rows between unbounded preceding and current row
           ) as places_taken
      from ranked
)
select application_id, program_code, verdict, score, rank,
       case when rank is null then null
            when not meets_min_score then 'not_selected'
            when places_taken <= quota then 'selected'
            else 'waitlisted' end as decision
  from filled
"""


def _floor_reference(conn: psycopg.Connection, seeds: Path) -> None:
    """The rule tables the SQL pass joins, from the dbt seeds (setup, not timed)."""

    def rows(name: str, columns: list[str]) -> list[tuple]:
        with (seeds / f"{name}.csv").open(encoding="utf-8", newline="") as f:
            return [tuple(row[c] or None for c in columns) for row in csv.DictReader(f)]

    conn.execute("create table floor_excluded (ksic_prefix text, partial_flag boolean)")
    conn.execute("create table floor_exceptions (ksic_prefix text, excluded_prefix text)")
    conn.execute("create table floor_catalogue (program_code text, quota int, selection_method text)")
    with conn.cursor() as cur:
        cur.executemany(
            "insert into floor_excluded values (%s, %s)",
            rows("excluded_industries", ["ksic_prefix", "partial_flag"]),
        )
        cur.executemany(
            "insert into floor_exceptions values (%s, %s)",
            rows("excluded_industry_exceptions", ["ksic_prefix", "excluded_prefix"]),
        )
        catalogue = rows(
            "program_catalogue", ["program_code", "quota", "selection_method", "is_application_programme"]
        )
        cur.executemany(
            "insert into floor_catalogue values (%s, %s, %s)",
            [r[:3] for r in catalogue if r[3] == "true" and r[2] in ("committee", "first_come")],
        )


def floor(recorder: Recorder, url: str, scenario: Path, history_end: datetime, seeds: Path) -> list[dict]:
    """COPY of the history's portal records and score files, then one SQL pass: verdicts and ranking."""
    from panro.config import load_settings

    first = len(recorder.stages)
    jsonl = scenario / "portal" / "applications.jsonl"
    size, lines = history_prefix_bytes(jsonl, history_end)
    last_round = (history_end - timedelta(days=1)).strftime("%Y%m%d")
    score_files = [
        p for p in sorted((scenario / "evaluation").glob("scores_*.csv")) if p.name[7:15] <= last_round
    ]
    seed = load_settings().allocation_seed
    with connect_db(url) as conn:
        _floor_reference(conn, seeds)
        conn.execute("create table floor_portal (record jsonb)")
        conn.execute(
            """create table floor_scores (application_id text, round_id text, reviewer_id text,
               criterion text, score numeric, max_score numeric, conflict_of_interest text, scored_at text)"""
        )
    with recorder.stage("COPY portal records", "floor") as st, connect_db(url) as conn:
        # The JSON lines as they are: a CSV dialect whose quote and delimiter never occur in them.
        left = size
        with (
            jsonl.open("rb") as f,
            conn.cursor().copy(
                "copy floor_portal (record) from stdin with (format csv, quote e'\\x01', delimiter e'\\x02')"
            ) as copy,
        ):
            while left > 0:
                chunk = f.read(min(left, 1 << 20))
                if not chunk:
                    break
                copy.write(chunk)
                left -= len(chunk)
        st.update(rows=lines, bytes=size)
    with recorder.stage("COPY score files", "floor") as st, connect_db(url) as conn:
        for path in score_files:
            with (
                path.open("rb") as f,
                conn.cursor().copy("copy floor_scores from stdin with (format csv, header)") as copy,
            ):
                while chunk := f.read(1 << 20):
                    copy.write(chunk)
        st.update(
            rows=conn.execute("select count(*) from floor_scores").fetchone()[0], files=len(score_files)
        )
    with recorder.stage("SQL pass: verdicts + ranking", "floor") as st, connect_db(url) as conn:
        # Statistics first, as anyone writing the pass by hand would: planned before autovacuum had
        # analyzed the freshly copied tables, L's pass ran over 12 minutes (M's: 5 s).
        conn.execute("analyze floor_portal, floor_scores, floor_excluded, floor_exceptions, floor_catalogue")
        # the SQL is all literals (its % are modulo): the seed goes in as a quoted literal
        conn.execute(FLOOR_SQL.replace(":seed", sql.Literal(seed).as_string(conn)))
        st["rows"] = conn.execute("select count(*) from floor_decisions").fetchone()[0]
        st["decisions"] = dict(
            conn.execute(
                "select coalesce(decision, verdict), count(*) from floor_decisions group by 1"
            ).fetchall()
        )
    return recorder.stages[first:]


# --- one size -----------------------------------------------------------------------------------------


def _database_name(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def _database_url(server_url: str, name: str) -> str:
    return urlunparse(urlparse(server_url)._replace(path=f"/{name}"))


@contextmanager
def scratch_database(server_url: str, name: str, keep: bool = False) -> Iterator[str]:
    with connect_db(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))
    try:
        yield _database_url(server_url, name)
    finally:
        if not keep:
            with connect_db(server_url, autocommit=True) as conn:
                conn.execute(sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name)))


def _total(stages: list[dict], groups: set[str] | None = None) -> float:
    return round(sum(s["seconds"] for s in stages if groups is None or s["group"] in groups), 3)


def gate_budget(stage_budget: float | None, applications: int) -> float | None:
    """A gate's budget at a size: ``stage_budget`` seconds per M (200,000 applications), never less.
    A gate's cost grows with its loads and rows (L's score files take about five times M's), and a
    gate stopped by its budget rejects the loads it was judging, so the rest of that replay would be
    measured on a warehouse without them. The budget is there to stop a check that grows faster."""
    if not stage_budget:
        return None
    return stage_budget * max(1.0, applications / SIZES["M"])


def measure_phase(
    recorder: Recorder, name: str, run: Callable[[], list[dict]]
) -> tuple[list[dict], str | None]:
    """Run one phase of a size (full replay, floor, daily run) on a fresh list of stages. An exception
    ends the phase, not the size: it returns the stages measured so far (the failing one with its
    error) and the error, so the report still shows what was measured."""
    recorder.stages = []
    try:
        return run(), None
    except Exception as exc:
        return recorder.stages[:], f"{name}: {type(exc).__name__}: {exc}"[:2000]


def bench_size(
    label: str,
    applications: int,
    *,
    server_url: str,
    root: Path,
    seed: int,
    daily: int,
    keep: bool,
    home: Path,
    stage_budget: float | None = None,
) -> dict:
    from panro.dbt import run_dbt

    scenario, p = cached_scenario(root / "scenarios", applications, seed, daily)
    meta = json.loads((scenario / "scenario.json").read_text(encoding="utf-8"))
    work = root / "work" / label
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    result: dict = {
        "size": label,
        "applications": applications,
        "scenario": {
            "folder": str(scenario),
            "days": p["days"],
            "first_day": FIRST_DAY.isoformat(),
            "history_last_day": p["history_last_day"].isoformat(),
            "daily_day": p["daily_day"].isoformat(),
            "counts": {k: v for k, v in meta["counts"].items() if isinstance(v, int)},
        },
    }
    history_end = _kst_midnight(p["daily_day"])
    suffix = re.sub(r"[^a-z0-9]", "_", label.lower())
    sims = Simulators(scenario)
    try:
        with (
            scratch_database(server_url, f"panro_bench_{suffix}", keep) as url,
            scratch_database(server_url, f"panro_bench_{suffix}_floor") as floor_url,
            MemorySampler(postmaster_pid(server_url), {sims.proc.pid}) as sampler,
        ):
            recorder = Recorder(
                sampler,
                server_url,
                (_database_name(url), _database_name(floor_url)),
                budget=gate_budget(stage_budget, applications),
            )
            run = Run(url, scenario, sims, work, recorder)
            # dbt parses the project once (what a deployment does when it ships); not part of a run
            started = time.perf_counter()
            run_dbt(["parse"], url, {})  # the runs' --vars (the run's own values go in the environment)
            result["dbt_parse_s"] = round(time.perf_counter() - started, 2)
            _warm_up_gx()
            print(f"  {label}: full replay {FIRST_DAY} .. {p['history_last_day']} from an empty warehouse")
            result["full"], error = measure_phase(
                recorder,
                "full replay",
                lambda: pipeline(run, "full", p["history_last_day"], _kst_midnight(FIRST_DAY), history_end),
            )
            if error:
                result["error"] = error
            result["full_database_mb"] = _database_mb(url)
            print(f"  {label}: floor (COPY + one SQL pass)")
            result["floor"], error = measure_phase(
                recorder,
                "floor",
                lambda: floor(recorder, floor_url, scenario, history_end, home / "dbt_project" / "seeds"),
            )
            if error:
                result["floor_error"] = error
            if "error" not in result:
                print(f"  {label}: daily run {p['daily_day']} on the warehouse holding the history")
                result["daily"], error = measure_phase(
                    recorder,
                    "daily run",
                    lambda: pipeline(
                        run, "daily", p["daily_day"], history_end, history_end + timedelta(days=1)
                    ),
                )
                if error:
                    result["error"] = error
                result["daily_new_applications"] = _new_applications(url, p["daily_day"])
    finally:
        sims.close()
    result["ratios"] = ratios(result)
    return result


def _warm_up_gx() -> None:
    """Import Great Expectations once before timing: an Airflow task pays it in every gate, a cost that
    does not depend on the data (and is the same at every size)."""
    import great_expectations  # noqa: F401

    from panro.quality import load_suites

    load_suites()


def _database_mb(url: str) -> float:
    with connect_db(url) as conn:
        return round(conn.execute("select pg_database_size(current_database())").fetchone()[0] / 1e6, 1)


def _new_applications(url: str, day: date) -> int:
    with connect_db(url) as conn:
        return conn.execute(
            """select count(*) from raw.portal_applications
                where record ->> 'status' = 'submitted'
                  and record ->> 'updated_at' >= %s and record ->> 'updated_at' < %s""",
            (day.isoformat(), (day + timedelta(days=1)).isoformat()),
        ).fetchone()[0]


def _stage(stages: list[dict], name: str) -> dict | None:
    return next((s for s in stages if s["stage"] == name), None)


def ratios(result: dict) -> dict:
    """Pipeline / floor: per row for ingest (how many times slower per record), in time for the
    transform (same applications) and in total."""
    full, fl = result.get("full") or [], result.get("floor") or []
    out: dict = {}
    ingest, copy = _stage(full, "ingest portal"), _stage(fl, "COPY portal records")
    if ingest and copy and ingest.get("rows_per_s") and copy.get("rows_per_s"):
        out["ingest_portal_rows_per_s_vs_copy"] = round(ingest["rows_per_s"] / copy["rows_per_s"], 3)
        out["ingest_portal_vs_copy"] = round(copy["rows_per_s"] / ingest["rows_per_s"], 2)
    scores, copy_scores = _stage(full, "ingest evaluation"), _stage(fl, "COPY score files")
    if scores and copy_scores and scores.get("rows_per_s") and copy_scores.get("rows_per_s"):
        out["ingest_evaluation_vs_copy"] = round(copy_scores["rows_per_s"] / scores["rows_per_s"], 2)
    sql_pass = _stage(fl, "SQL pass: verdicts + ranking")
    transform = [s for s in full if s["stage"] in TRANSFORM_STAGES]
    if sql_pass and transform and sql_pass["seconds"] > 0:
        out["transform_vs_sql_pass"] = round(_total(transform) / sql_pass["seconds"], 2)
    marts = _stage(full, "dbt marts + restricted")
    if sql_pass and marts and marts.get("allocation_s") is not None and sql_pass["seconds"] > 0:
        out["allocation_vs_sql_pass"] = round(marts["allocation_s"] / sql_pass["seconds"], 2)
    if full and fl and _total(fl) > 0:
        out["total_vs_floor"] = round(_total(full) / _total(fl), 2)
    return out


# --- targets, report ----------------------------------------------------------------------------------


def _slowest(stages: list[dict], n: int = 3) -> str:
    top = sorted(stages, key=lambda s: -s["seconds"])[:n]
    return ", ".join(f"{s['stage']} {s['seconds']:.1f}s" for s in top)


def targets(sizes: dict[str, dict]) -> list[dict]:
    """The issue's targets, each met / missed / not measured, with the stages that decide it."""
    out: list[dict] = []
    m, big = sizes.get("M"), sizes.get("L")

    def add(target: str, met: bool | None, measured: str, why: str = "") -> None:
        out.append({"target": target, "met": met, "measured": measured, "why": "" if met else why})

    if m and m.get("full"):
        total = _total(m["full"])
        add(
            "M from empty to published extract <= 60 s",
            total <= 60 and "error" not in m,
            f"{total:.1f} s",
            f"slowest stages: {_slowest(m['full'])}",
        )
    else:
        add("M from empty to published extract <= 60 s", None, "M not run")
    for label, r in sizes.items():
        ratio = r.get("ratios", {}).get("ingest_portal_rows_per_s_vs_copy")
        if ratio is not None:
            add(
                f"{label}: portal ingest >= 0.5 x the COPY floor's rows/s",
                ratio >= 0.5,
                f"{ratio:.2f} x",
                "records travel as JSON pages over HTTP, are parsed, hashed and re-serialised in Python",
            )
    for label in ("M", "L"):
        r = sizes.get(label)
        if r and r.get("daily"):
            total = _total(r["daily"])
            add(
                f"daily run at {label} <= 20 s",
                total <= 20,
                f"{total:.1f} s",
                f"slowest stages: {_slowest(r['daily'])}",
            )
    if m and big and m.get("daily") and big.get("daily"):
        growth = _total(big["daily"]) / _total(m["daily"])
        grown = _grown(m["daily"], big["daily"], 1.5)
        add("daily run at L <= 1.5 x at M", growth <= 1.5, f"{growth:.2f} x", f"stages that grow: {grown}")
    # memory of the daily run against the history held: the two largest sizes run
    with_daily = [(k, v) for k, v in sizes.items() if v.get("daily")]
    if len(with_daily) >= 2:
        (small_label, small), (large_label, large) = with_daily[-2], with_daily[-1]
        grown = _grown(small["daily"], large["daily"], 1.25, key="peak_mb")
        add(
            f"no daily stage's memory grows with the history ({small_label} -> {large_label})",
            not grown,
            "max growth "
            + f"{max(_growth(small['daily'], large['daily'], 'peak_mb').values(), default=1.0):.2f} x",
            f"stages whose peak grows > 1.25 x: {grown}",
        )
    return out


def _growth(small: list[dict], large: list[dict], key: str) -> dict[str, float]:
    before = {s["stage"]: s for s in small}
    out = {}
    for s in large:
        b = before.get(s["stage"])
        if b and b.get(key) and s.get(key) is not None:
            out[s["stage"]] = s[key] / b[key]
    return out


def _grown(small: list[dict], large: list[dict], limit: float, key: str = "seconds") -> str:
    growth = _growth(small, large, key)
    if key == "seconds":  # sub-second stages are noise
        growth = {k: v for k, v in growth.items() if _stage(large, k)["seconds"] >= 1.0}
    items = sorted(((v, k) for k, v in growth.items() if v > limit), reverse=True)
    return ", ".join(f"{k} {v:.1f}x" for v, k in items)


def machine() -> dict:
    info = {
        "cpus": os.cpu_count(),
        "cpu_model": None,
        "ram_gb": None,
        "python": platform.python_version(),
        "os": f"{platform.system()} {platform.release()}",
    }
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu_model"] = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["ram_gb"] = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return info


def _server_info(url: str) -> dict:
    with connect_db(url) as conn:
        version = conn.execute("show server_version").fetchone()[0]
        settings = dict(
            conn.execute(
                """select name, current_setting(name) from pg_settings
                    where name in ('shared_buffers', 'work_mem', 'maintenance_work_mem', 'max_wal_size',
                                   'synchronous_commit', 'max_parallel_workers_per_gather')"""
            ).fetchall()
        )
    return {"postgresql": version, "settings": settings}


def _fmt_rows(n) -> str:
    return f"{n:,}" if isinstance(n, int) else "–"


_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _cell(text: str, limit: int = 220) -> str:
    """Text fit for one Markdown table cell: no colour codes, one line, no bare pipes."""
    text = " ".join(_ANSI.sub("", text).split())
    return (text[: limit - 1] + "…" if len(text) > limit else text).replace("|", "\\|")


def _stage_table(stages: list[dict]) -> list[str]:
    lines = [
        "| stage | s | rows | rows/s | peak MB (of it PostgreSQL) | note |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for s in stages:
        notes = []
        if s.get("over_budget"):
            notes.append("**over the stage budget: its queries were cancelled**")
        if s.get("error"):
            notes.append(f"**error**: {_cell(s['error'])}")
        if s.get("gate_failed"):
            notes.append(f"**gate failed**: {_cell('; '.join(s.get('failures', [])))}")
        elif s.get("warnings"):
            notes.append(f"{s['warnings']} warnings")
        if s.get("files") is not None:
            notes.append(f"{s['files']} files" + (f", {s['refused']} refused" if s.get("refused") else ""))
        if s.get("asked"):
            notes.append(_cell(str(s["asked"])))
        if s.get("dbt_startup_s") is not None:
            notes.append(
                f"dbt: {s['dbt_startup_s']:.1f} s start-up, {s['dbt_nodes']} nodes "
                f"(models {s['dbt_models_s']:.1f} s, tests {s['dbt_tests_s']:.1f} s)"
            )
        rps = f"{s['rows_per_s']:,}" if s.get("rows_per_s") is not None else "–"
        lines.append(
            f"| {s['stage']} | {s['seconds']:.2f} | {_fmt_rows(s['rows'])} | {rps} | "
            f"{s['peak_mb']:.0f} ({s['peak_postgres_mb']:.0f}) | {'; '.join(notes)} |"
        )
        if s.get("allocation_s") is not None:
            decided = s.get("decisions") or 0
            rate = f"{round(decided / s['allocation_s']):,}" if s["allocation_s"] > 0 else "–"
            lines.append(
                f"| ↳ of it allocation (fct_allocation_decision) | {s['allocation_s']:.2f} | "
                f"{_fmt_rows(decided)} | {rate} | | decisions of the round; model time from run_results.json |"
            )
    lines.append(f"| **total** | **{_total(stages):.2f}** | | | | |")
    return lines


def markdown(report: dict) -> str:
    mach, server, load = report["machine"], report["server"], report.get("load_average", {})
    out = [
        f"Run {report['started_at']} (seed {report['seed']}), {report['duration_s']:.0f} s in all.",
        "",
        f"Machine: {mach['cpus']} CPUs ({mach['cpu_model']}), {mach['ram_gb']} GB RAM, {mach['os']}; "
        f"PostgreSQL {server['postgresql']} ("
        + ", ".join(f"{k} {v}" for k, v in sorted(server["settings"].items()))
        + f"); Python {mach['python']}. Load average (1 min) at start {load.get('start', '–')}, "
        f"at end {load.get('end', '–')}.",
        "",
        "| size | applications (history) | days | full replay s | floor s | pipeline / floor | "
        "daily run s | daily new applications | warehouse MB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in report["sizes"].items():
        full, fl, daily = r.get("full") or [], r.get("floor") or [], r.get("daily") or []
        out.append(
            f"| {label} | {r['applications']:,} | {r['scenario']['days']} | {_total(full):.1f} | "
            f"{_total(fl):.1f} | {r['ratios'].get('total_vs_floor', '–')} | "
            + (f"{_total(daily):.1f}" if daily else "–")
            + f" | {_fmt_rows(r.get('daily_new_applications'))} | {r.get('full_database_mb', '–')} |"
        )
    out += ["", "Targets (reported, not enforced):", ""]
    for t in report["targets"]:
        state = "n/a" if t["met"] is None else ("met" if t["met"] else "**missed**")
        out.append(f"- {t['target']}: {state} ({t['measured']})" + (f" — {t['why']}" if t["why"] else ""))
    for label, r in report["sizes"].items():
        ratio = r["ratios"]
        out += [
            "",
            f"### {label}: {r['applications']:,} applications",
            "",
            f"Scenario: {r['scenario']['days']} days from {r['scenario']['first_day']}; history to "
            f"{r['scenario']['history_last_day']}, daily run {r['scenario']['daily_day']}. "
            + " ".join(f"**{_cell(r[k], 400)}**" for k in ("error", "floor_error") if r.get(k)),
            "",
            "Pipeline / floor: portal ingest "
            + f"{ratio.get('ingest_portal_vs_copy', '–')} x slower per record than COPY; score files "
            + f"{ratio.get('ingest_evaluation_vs_copy', '–')} x; transform (dbt) "
            + f"{ratio.get('transform_vs_sql_pass', '–')} x the SQL pass (allocation alone "
            + f"{ratio.get('allocation_vs_sql_pass', '–')} x); in total {ratio.get('total_vs_floor', '–')} x.",
            "",
            "Full replay from an empty warehouse:",
            "",
            *_stage_table(r.get("full") or []),
            "",
            "Floor (same server, same run):",
            "",
            *_stage_table(r.get("floor") or []),
        ]
        if r.get("daily"):
            out += ["", "Daily run on the warehouse holding the history:", "", *_stage_table(r["daily"])]
    return "\n".join(out) + "\n"


DOCS_BEGIN = "<!-- bench:latest -->"
DOCS_END = "<!-- /bench:latest -->"


def update_docs(path: Path, table: str) -> None:
    """Put the latest table between the markers of docs/benchmark.md (the prose around it stays)."""
    text = path.read_text(encoding="utf-8") if path.exists() else f"# Benchmark\n\n{DOCS_BEGIN}\n{DOCS_END}\n"
    if DOCS_BEGIN not in text:
        text += f"\n{DOCS_BEGIN}\n{DOCS_END}\n"
    head, rest = text.split(DOCS_BEGIN, 1)
    _, tail = rest.split(DOCS_END, 1) if DOCS_END in rest else ("", "")
    path.write_text(f"{head}{DOCS_BEGIN}\n{table}{DOCS_END}{tail}", encoding="utf-8")


# --- entry point ----------------------------------------------------------------------------------------


@contextmanager
def _environment(values: dict[str, str | None]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    for k, v in values.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_bench(
    sizes: dict[str, int],
    *,
    server_url: str | None = None,
    seed: int = 2024,
    daily: int = DAILY_NEW,
    keep: bool = False,
    docs: Path | None = None,
    stage_budget: float | None = None,
) -> dict:
    """Benchmark ``sizes`` (label -> applications); returns the report, also written as JSON and
    Markdown under ``<state>/bench``. ``server_url``: a PostgreSQL server to create the bench databases
    on (default ``WAREHOUSE_URL``, else the bench's own embedded server, stopped at the end)."""
    from panro.config import load_settings
    from panro.warehouse import start_embedded, stop_embedded

    settings = load_settings()
    root = settings.state_dir / "bench"
    root.mkdir(parents=True, exist_ok=True)
    pgdata = None
    if server_url is None and settings.warehouse_url:
        server_url = settings.warehouse_url
    if server_url is None:
        pgdata = root / "pgdata"
        server_url = start_embedded(pgdata)
    started_at = datetime.now(KST)
    started = time.monotonic()
    report: dict = {
        "started_at": started_at.isoformat(timespec="seconds"),
        "seed": seed,
        "machine": machine(),
        "server": _server_info(server_url),
        # Other work on the machine skews every time: the 1-minute load average at start and end.
        "load_average": {"start": round(os.getloadavg()[0], 2)},
        "sizes": {},
    }
    work_state = root / "state"
    # The bench's own state (dbt target, alerts log, Data Docs): never the operator's; no webhook.
    env = {
        "PANRO_STATE_DIR": str(work_state),
        "PANRO_DROP_DIR": None,
        "PANRO_OUTBOX_DIR": None,
        "PANRO_ALERT_WEBHOOK": None,
        "WAREHOUSE_URL": None,
    }
    # The stages record gate outcomes and refusals themselves; the package's alert and refusal log
    # lines would only bury the progress lines.
    quiet = [logging.getLogger(name) for name in ("panro", "great_expectations", "sqlalchemy")]
    levels = [logger.level for logger in quiet]
    for logger in quiet:
        logger.setLevel(logging.CRITICAL)
    try:
        with _environment(env):
            for label, applications in sizes.items():
                print(f"{label} = {applications:,} applications", flush=True)
                report["sizes"][label] = bench_size(
                    label,
                    applications,
                    server_url=server_url,
                    root=root,
                    seed=seed,
                    daily=daily,
                    keep=keep,
                    home=settings.home,
                    stage_budget=stage_budget,
                )
    finally:
        for logger, level in zip(quiet, levels, strict=True):
            logger.setLevel(level)
        if pgdata is not None:
            stop_embedded(pgdata)
    report["duration_s"] = round(time.monotonic() - started, 1)
    report["load_average"]["end"] = round(os.getloadavg()[0], 2)
    report["targets"] = targets(report["sizes"])
    stamp = started_at.strftime("%Y%m%dT%H%M%S")
    table = markdown(report)
    (root / f"{stamp}.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (root / f"{stamp}.md").write_text(table, encoding="utf-8")
    (root / "latest.md").write_text(table, encoding="utf-8")
    report["files"] = {"json": str(root / f"{stamp}.json"), "markdown": str(root / f"{stamp}.md")}
    if docs is not None:
        update_docs(docs, table)
    return report


def main(argv: list[str] | None = None) -> int:
    """``python -m panro.bench serve SCENARIO``: the simulators' child process."""
    parser = argparse.ArgumentParser(prog="python -m panro.bench")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("serve")
    p.add_argument("scenario", type=Path)
    args = parser.parse_args(argv)
    return serve(args.scenario)


if __name__ == "__main__":
    sys.exit(main())
