"""What the warehouse holds, for people: the per-programme summary and the status page."""

from __future__ import annotations

from panro.warehouse import connect

SUMMARY = """
with apps as (
    select program_code, count(*) as loaded from marts.fct_application group by 1
), verdicts as (
    select a.program_code, count(*) filter (where e.verdict = 'eligible') as eligible
      from marts.fct_application a join marts.fct_eligibility e using (application_id) group by 1
), decisions as (
    select program_code,
           count(*) filter (where decision = 'selected') as selected,
           count(*) filter (where decision = 'waitlisted') as waitlisted,
           count(*) filter (where decision = 'not_selected') as not_selected
      from marts.fct_allocation_decision group by 1
), programmes as (
    select program_code, program_name_ko, program_quota from marts.dim_program where is_programme_level
)
select p.program_code, p.program_name_ko, p.program_quota, coalesce(a.loaded, 0), coalesce(v.eligible, 0),
       coalesce(d.selected, 0), coalesce(d.waitlisted, 0), coalesce(d.not_selected, 0)
  from programmes p
  left join apps a using (program_code)
  left join verdicts v using (program_code)
  left join decisions d using (program_code)
 where a.loaded is not null
 order by p.program_code
"""


def summary_rows(url: str) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(SUMMARY).fetchall()


def format_summary(rows: list[tuple]) -> str:
    header = f"{'code':<5} {'sub-programme':<24} {'quota':>7} {'loaded':>7} {'eligible':>8} {'selected':>8} {'waitlist':>8} {'not sel.':>8}"
    lines = [header, "-" * len(header)]
    totals = [0, 0, 0, 0, 0]
    for code, name, quota, *counts in rows:
        name = (name or "")[:12]
        pad = 24 - sum(2 if ord(ch) > 0x1100 else 1 for ch in name)
        lines.append(
            f"{code:<5} {name}{' ' * max(pad, 1)} {quota if quota is not None else '-':>7} "
            + " ".join(f"{c:>{w}}" for c, w in zip(counts, (7, 8, 8, 8, 8)))
        )
        totals = [t + c for t, c in zip(totals, counts)]
    lines.append("-" * len(header))
    lines.append(
        f"{'all':<5} {'':<24} {'':>7} " + " ".join(f"{c:>{w}}" for c, w in zip(totals, (7, 8, 8, 8, 8)))
    )
    return "\n".join(lines)


def print_status(url: str) -> None:
    with connect(url) as conn:
        print(f"warehouse: {url}")
        for source, watermark in conn.execute("select source, watermark from ops.watermarks order by 1"):
            print(f"watermark {source}: {watermark.isoformat()}")
        print("last loads:")
        for row in conn.execute(
            """select source, coalesce(source_file, to_char(interval_start at time zone 'Asia/Seoul', 'YYYY-MM-DD')),
                      outcome, rows_received, rows_inserted, duration_s, message
                 from ops.load_ledger order by started_at desc limit 10"""
        ):
            print("  " + " | ".join("" if v is None else str(v) for v in row))
        has_marts = conn.execute(
            "select to_regclass('marts.fct_allocation_decision') is not null"
        ).fetchone()[0]
    if has_marts:
        print(format_summary(summary_rows(url)))
    else:
        print("no marts yet: run a day first (panro run --from YYYY-MM-DD)")
