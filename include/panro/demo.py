"""`make run`: embedded warehouse, a demo scenario, the simulated portal on loopback, two weeks of the
programme replayed day by day through the real Airflow DAGs, and a summary."""

from __future__ import annotations

import secrets
import time
from datetime import date, timedelta

from panro.config import load_settings

# Demand of the demo's two weeks, per 10,000 applications. Rolling intake runs all year, so two weeks
# of realistic demand would fill no quota; the demo over-weights the small sub-programmes (P-1's 50
# places, 2-9's 250, 1-5's 300) so that ranking, cut lines and waitlists show.
DEMO_MIX_PER_10K = {
    "1-2": 700,
    "1-3": 900,
    "1-4": 900,
    "1-5": 900,
    "1-6": 600,
    "2-1": 1400,
    "2-2": 500,
    "2-3": 500,
    "2-4": 500,
    "2-5": 600,
    "2-7": 500,
    "2-8": 800,
    "2-9": 800,
    "P-1": 400,
}
FIRST_DAY = date(2024, 3, 4)


def demo_mix(applications: int) -> dict[str, int]:
    return {code: max(1, round(applications * share / 10_000)) for code, share in DEMO_MIX_PER_10K.items()}


def run_demo(days: int = 14, applications: int = 3000, seed: int = 2024) -> int:
    from panro.dbt import generate_docs
    from panro.replay import run_days
    from panro.report import (
        format_quality,
        format_sources,
        format_summary,
        format_verdict_reasons,
        summary_rows,
    )
    from panro.servers.nts import NtsServer, NtsState
    from panro.servers.portal import PortalServer, PortalState
    from panro.simulate import simulate
    from panro.warehouse import ensure_schema, resolve_url, stop_embedded

    settings = load_settings()
    started = time.monotonic()
    url = resolve_url(settings)
    ensure_schema(url)
    print(f"warehouse: {url}")

    scenario = settings.state_dir / "scenarios" / f"demo-s{seed}-n{applications}-d{days}"
    if not (scenario / "scenario.json").exists():
        simulate(scenario, seed=seed, first_day=FIRST_DAY, days=days, mix=demo_mix(applications), name="demo")
    print(f"scenario: {scenario}")

    # fresh secrets each run, shared only with the replay's environment
    token, key = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    last_day = FIRST_DAY + timedelta(days=days - 1)
    with (
        PortalServer(PortalState.from_scenario(scenario, token)) as portal,
        NtsServer(NtsState.from_scenario(scenario, key)) as nts,
    ):
        print(f"simulators (loopback): portal {portal.base_url}, tax office {nts.base_url}")
        log = run_days(
            FIRST_DAY,
            last_day,
            settings=settings,
            extra_env={
                "WAREHOUSE_URL": url,
                "PORTAL_BASE_URL": portal.base_url,
                "PORTAL_TOKEN": token,
                "NTS_BASE_URL": nts.base_url,
                "NTS_SERVICE_KEY": key,
                "PANRO_RETRY_DELAY_S": "2",
            },
            scenario=scenario,
            sim_control=[portal.base_url, nts.base_url],
        )

    print()
    print(f"programme {FIRST_DAY} .. {last_day}, replayed in {time.monotonic() - started:.0f}s")
    print()
    print(format_sources(url))
    print()
    print(format_summary(summary_rows(url)))
    print()
    print("eligibility verdicts and their reasons (판정별 사유; every channel):")
    print(format_verdict_reasons(url))
    print()
    print(format_quality(url, settings.state_dir / "data_docs"))
    # what the daily panro_docs DAG does, once (the replay leaves it out)
    docs = generate_docs(url, settings)
    print(f"dbt docs: {docs / 'static_index.html'} (marts and every model: columns, tests, lineage)")
    print()
    print(f"extracts: {settings.outbox_dir}/<YYYY-MM-DD>/ (XLSX, CSV, manifest.json)")
    print(f"marts:    schemas marts (BI), restricted (personal data) in {url}")
    print(f"logs:     {log}, {settings.logs_dir / 'airflow'}, alerts in {settings.logs_dir / 'alerts.log'}")
    if not settings.warehouse_url:
        stop_embedded(settings.embedded_pgdata)
        print(
            "the embedded warehouse is stopped; `.venv/bin/panro warehouse start` starts it and prints its URL"
        )
    return 0
