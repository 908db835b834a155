"""The ``panro`` command line: simulate, serve, run, status, quarantine, warehouse, demo, airflow."""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from panro.config import load_settings


def _parse_mix(text: str | None) -> dict[str, int] | None:
    if not text:
        return None
    mix = {}
    for part in text.split(","):
        code, _, count = part.partition("=")
        if not count.isdigit():
            raise argparse.ArgumentTypeError(f"--mix: expected CODE=COUNT, got {part!r}")
        mix[code.strip()] = int(count)
    return mix


def cmd_simulate(args) -> int:
    from panro.simulate import simulate

    meta = simulate(
        args.out,
        seed=args.seed,
        first_day=args.first_day,
        days=args.days,
        applications=args.applications,
        mix=_parse_mix(args.mix),
        name=args.name,
    )
    print(
        f"scenario {meta['name']} in {args.out}: {meta['first_day']} .. {meta['last_day']}, counts {meta['counts']}"
    )
    return 0


def cmd_serve(args) -> int:
    from panro.servers.faults import FaultPlan
    from panro.servers.nts import NtsServer, NtsState
    from panro.servers.portal import PortalServer, PortalState, parse_instant

    token, key = os.environ.get("PORTAL_TOKEN"), os.environ.get("NTS_SERVICE_KEY")
    if not token or not key:
        print(
            "PORTAL_TOKEN and NTS_SERVICE_KEY must be set: the secrets clients must present", file=sys.stderr
        )
        return 2
    clock = parse_instant(args.clock, "--clock") if args.clock else None
    # Stop on Ctrl-C and on SIGTERM (docker stop), even when started with SIGINT ignored (a shell's
    # background job): Python installs no SIGINT handler then, and the servers would never stop.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.default_int_handler)
    # each server its own fault plan (a plan's request counter is its own)
    servers = [
        PortalServer(
            PortalState.from_scenario(args.scenario, token, clock),
            args.host,
            args.port,
            FaultPlan(args.fault_rate, args.fault_seed),
        ).start(),
        NtsServer(
            NtsState.from_scenario(args.scenario, key, clock),
            args.host,
            args.nts_port,
            FaultPlan(args.fault_rate, args.fault_seed + 1),
        ).start(),
    ]
    print(
        f"serving {args.scenario}: portal {servers[0].base_url}, tax office {servers[1].base_url}"
        f" (faults {args.fault_rate:.0%}; Ctrl-C to stop)",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        for server in servers:
            server.stop()
    return 0


def cmd_deliver(args) -> int:
    from panro.simulate import deliver_files

    settings = load_settings()
    written = deliver_files(args.scenario, args.drop_dir or settings.drop_dir, args.day)
    print(f"{len(written)} files delivered for {args.day}")
    return 0


def cmd_run(args) -> int:
    from panro.replay import run_days
    from panro.warehouse import ensure_schema, resolve_url

    settings = load_settings()
    url = resolve_url(settings)
    ensure_schema(url)
    log = run_days(
        args.first,
        args.last or args.first,
        settings=settings,
        extra_env={"WAREHOUSE_URL": url},
        scenario=args.scenario,
        sim_control=args.sim_control,
    )
    print(f"log: {log}")
    return 0


def cmd_status(args) -> int:
    from panro.report import print_status, table_checksums
    from panro.warehouse import resolve_url

    if args.checksums:
        for name, (count, digest) in table_checksums(resolve_url()).items():
            print(f"{name}\t{count}\t{digest}")
        return 0
    print_status(resolve_url())
    return 0


def cmd_explain(args) -> int:
    from panro.explain import explain
    from panro.warehouse import resolve_url

    text = explain(resolve_url(), args.application_id)
    if text is None:
        print(f"{args.application_id}: no such application in the marts (run a day first)", file=sys.stderr)
        return 1
    print(text)
    return 0


def cmd_accept_load(args) -> int:
    from panro.quality import accept_load
    from panro.warehouse import resolve_url

    try:
        accept_load(resolve_url(), args.load_id, accepted_by=args.by, reason=args.reason)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(
        f"{args.load_id} accepted: the landing gate skips it; rerun its landing_gate task to announce the day"
    )
    return 0


def cmd_quarantine(args) -> int:
    from panro.quarantine import decide, open_rows
    from panro.warehouse import resolve_url

    if args.action == "list":
        rows = open_rows(resolve_url(), args.limit)
        for r in rows:
            where = f"{r['received_in']}" + (f" line {r['line_no']}" if r["line_no"] else "")
            print(
                f"{r['raw_table']}\t{r['raw_id']}\t{r['reason_code']}\t{r['field']}={r['value']!r}"
                f"\t{where}\t{r['reason_ko']}" + ("\t(releasable)" if r["is_releasable"] else "")
            )
        print(f"{len(rows)} open quarantined rows shown (quarantine.quarantined_rows)", file=sys.stderr)
        return 0
    if args.raw_table is None or args.raw_id is None or not args.by or not args.reason:
        print(f"quarantine {args.action} needs RAW_TABLE RAW_ID --by --reason", file=sys.stderr)
        return 2
    try:
        decide(
            resolve_url(), args.raw_table, args.raw_id, args.action, decided_by=args.by, reason=args.reason
        )
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"{args.raw_table} row {args.raw_id}: {args.action} recorded; the next dbt build applies it")
    return 0


def cmd_warehouse(args) -> int:
    from panro.warehouse import resolve_url, stop_embedded

    settings = load_settings()
    if args.action == "stop":
        stopped = stop_embedded(settings.embedded_pgdata)
        print("embedded warehouse stopped" if stopped else "embedded warehouse was not running")
    else:
        print(resolve_url(settings))
    return 0


def cmd_airflow(args) -> int:
    from panro.replay import airflow_environ

    airflow = str(Path(sys.executable).with_name("airflow"))
    env = {**os.environ, **airflow_environ(load_settings())}
    return subprocess.call([airflow, *args.airflow_args], env=env)


def cmd_rebuild_staging(args) -> int:
    from panro.dbt import DbtError, run_dbt
    from panro.warehouse import ensure_schema, resolve_url

    url = resolve_url(load_settings())
    ensure_schema(url)
    # after a change of a staging model's SQL: the incremental ones are re-read from all of raw, and the
    # folds (the current versions and the documents, sizes, programme conditions and bonus claims judged
    # from them, the 국세청 statuses, the committee reviews), which keep what they read, from all of it (the
    # next transform rebuilds the rest of intermediate and the marts on them as usual). The current
    # versions' view goes with its fold: a table made again drops the views on it.
    selected = ["staging", "quarantine", "tag:folds_staged_rows", "int_applications_current"]
    # the folds are made again as of a day before any application of the programme (they read nothing
    # yet); the next transform folds in all of staging up to its own round day
    before_any = {"round_date": "2024-01-01"}
    try:
        output = run_dbt(["build", "--select", *selected, "--full-refresh"], url, before_any)
    except DbtError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(output.strip().splitlines()[-1])
    return 0


def cmd_demo(args) -> int:
    from panro.demo import run_demo

    return run_demo(days=args.days, applications=args.applications, seed=args.seed)


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def cmd_bench(args) -> int:
    from panro.bench import SIZES, run_bench

    labels = [label.strip().upper() for label in args.sizes.split(",") if label.strip()]
    if args.large and "L" not in labels:
        labels.append("L")
    unknown = [label for label in labels if label not in SIZES]
    if unknown:
        print(f"--sizes: unknown size(s) {unknown}; known: {sorted(SIZES)}", file=sys.stderr)
        return 2
    sizes = {label: SIZES[label] for label in labels}
    if args.applications:
        sizes = {f"n{args.applications}": args.applications}
    docs = None if args.no_docs else load_settings().home / "docs" / "benchmark.md"
    report = run_bench(
        sizes,
        seed=args.seed,
        daily=args.daily,
        keep=args.keep,
        docs=docs,
        stage_budget=args.stage_budget or None,
    )
    print()
    print(Path(report["files"]["markdown"]).read_text(encoding="utf-8"))
    print(f"results: {report['files']['json']}" + (f", {docs}" if docs else ""))
    return 1 if any("error" in r for r in report["sizes"].values()) else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="panro", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("simulate", help="write a scenario (the state of every external system)")
    p.add_argument("--out", type=Path, required=True, help="scenario directory to write")
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--first-day", type=date.fromisoformat, default=date(2024, 3, 4))
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--applications", type=int, default=3000)
    p.add_argument("--mix", help="absolute counts per sub-programme, e.g. P-1=120,2-9=300")
    p.add_argument("--name", default="demo")
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "serve",
        help="serve a scenario as the 판판대로 portal API and the 국세청 status API "
        "(secrets from PORTAL_TOKEN and NTS_SERVICE_KEY)",
    )
    p.add_argument("--scenario", type=Path, required=True)
    p.add_argument("--host", default="127.0.0.1", help="listen address (loopback unless you say otherwise)")
    p.add_argument("--port", type=int, default=8710, help="portal API port")
    p.add_argument("--nts-port", type=int, default=8711, help="tax office API port")
    p.add_argument("--clock", help="show only what existed by this ISO-8601 instant")
    p.add_argument("--fault-rate", type=float, default=0.0, help="share of requests answered with a fault")
    p.add_argument("--fault-seed", type=int, default=0)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("deliver", help="play the partner systems: drop a scenario's files sent by a day")
    p.add_argument("--scenario", type=Path, required=True)
    p.add_argument("--day", type=date.fromisoformat, required=True)
    p.add_argument("--drop-dir", type=Path, help="default: PANRO_DROP_DIR or <state>/drop")
    p.set_defaults(func=cmd_deliver)

    p = sub.add_parser("run", help="run business days through the Airflow DAGs (ingest, transform, extract)")
    p.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
    p.add_argument("--to", dest="last", type=date.fromisoformat, help="last day (default: --from)")
    p.add_argument("--scenario", type=Path, help="deliver this scenario's partner files day by day")
    p.add_argument(
        "--sim-control",
        action="append",
        default=[],
        help="base URL of a simulator whose clock to move day by day",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("status", help="what the warehouse holds: loads, watermarks, verdicts, decisions")
    p.add_argument("--checksums", action="store_true", help="row count and md5 of every data table instead")
    p.set_defaults(func=cmd_status)

    p = sub.add_parser(
        "explain", help="why an application has its verdict and score: every rule, reason and bonus claim"
    )
    p.add_argument("application_id", help="e.g. FF24-0000001, O2O24-0000001, KAKAO-<site>-<BRN>")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser(
        "accept-load", help="let a load the landing gate refused into the models, saying who and why"
    )
    p.add_argument("load_id", help="the refused load (ops.rejected_loads)")
    p.add_argument("--by", required=True, help="who looked at it")
    p.add_argument("--reason", required=True, help="why it is right after all")
    p.set_defaults(func=cmd_accept_load)

    p = sub.add_parser(
        "quarantine", help="raw rows that cannot be typed: list them, release or dismiss one (who and why)"
    )
    p.add_argument("action", choices=["list", "release", "dismiss"])
    p.add_argument("raw_table", nargs="?", help="e.g. raw.portal_applications")
    p.add_argument("raw_id", nargs="?", type=int)
    p.add_argument("--by", help="who decides")
    p.add_argument("--reason", help="why")
    p.add_argument("--limit", type=int, default=50, help="rows listed (list)")
    p.set_defaults(func=cmd_quarantine)

    p = sub.add_parser("warehouse", help="the embedded warehouse: start (prints its URL) or stop")
    p.add_argument("action", choices=["start", "url", "stop"])
    p.set_defaults(func=cmd_warehouse)

    p = sub.add_parser("airflow", help="the airflow CLI with this project's environment")
    p.add_argument("airflow_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_airflow)

    p = sub.add_parser(
        "rebuild-staging",
        help="re-read staging, quarantine and the folds of staged rows (the 국세청 statuses, the committee"
        " reviews) from all of raw (after a change of a staging model's SQL)",
    )
    p.set_defaults(func=cmd_rebuild_staging)

    p = sub.add_parser("demo", help="what `make run` does: simulate, serve, replay, summarise")
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--applications", type=int, default=3000)
    p.add_argument("--seed", type=int, default=2024)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "bench",
        help="benchmark: full replay from empty, the COPY + SQL floor, the daily run (S and M; L with --large)",
    )
    p.add_argument("--sizes", default="S,M", help="sizes to run: S=20000, M=200000, L=1000000 (default S,M)")
    p.add_argument("--large", action="store_true", help="also run L (1,000,000 applications)")
    p.add_argument("--applications", type=_positive, help="one custom size instead of --sizes")
    p.add_argument(
        "--daily",
        type=_positive,
        default=2000,
        help="about how many new applications the daily run's day brings",
    )
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--keep", action="store_true", help="keep the bench databases (for EXPLAIN)")
    p.add_argument(
        "--stage-budget",
        type=float,
        default=600,
        help="seconds per 200,000 applications (at least that) after which a gate's queries are"
        " cancelled and it is reported over budget (0: none)",
    )
    p.add_argument("--no-docs", action="store_true", help="do not update docs/benchmark.md")
    p.set_defaults(func=cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
