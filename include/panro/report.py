"""What the warehouse holds, for people: the per-programme summary and the status page."""

from __future__ import annotations

import unicodedata

from psycopg import sql

from panro.warehouse import connect

SUMMARY = """
with apps as (
    select program_code, count(*) as loaded from marts.fct_application group by 1
), verdicts as (
    select a.program_code, count(*) filter (where e.verdict = 'eligible') as eligible
      from marts.fct_application a join marts.fct_eligibility e using (application_id) group by 1
), standing as (
    -- where each decided application stands now: its latest event in the ledger
    select distinct on (application_id) application_id, program_code, decision
      from marts.fct_allocation_decision order by application_id, event_seq desc
), decisions as (
    select program_code,
           count(*) filter (where decision = 'selected') as selected,
           count(*) filter (where decision = 'waitlisted') as waitlisted,
           count(*) filter (where decision = 'not_selected') as not_selected,
           count(*) filter (where decision = 'withdrawn') as withdrawn
      from standing group by 1
), promotions as (
    select program_code, count(*) as promoted
      from marts.fct_allocation_decision where decision = 'selected' and previous_decision = 'waitlisted' group by 1
), programmes as (
    select program_code, program_name_ko, program_quota from marts.dim_program where is_programme_level
)
select p.program_code, p.program_name_ko, p.program_quota, coalesce(a.loaded, 0), coalesce(v.eligible, 0),
       coalesce(d.selected, 0), coalesce(d.waitlisted, 0), coalesce(d.not_selected, 0),
       coalesce(d.withdrawn, 0), coalesce(pr.promoted, 0)
  from programmes p
  left join apps a using (program_code)
  left join verdicts v using (program_code)
  left join decisions d using (program_code)
  left join promotions pr using (program_code)
 where a.loaded is not null
 order by p.program_code
"""


SOURCES = """
select source,
       count(*) filter (where outcome = 'success') as loads,
       count(*) filter (where outcome = 'refused') as refused,
       count(*) filter (where outcome not in ('success', 'refused')) as failed,
       coalesce(sum(rows_received), 0) as rows_received,
       coalesce(sum(rows_inserted), 0) as rows_kept,
       coalesce(sum(bytes_received), 0) as bytes
  from ops.load_ledger
 group by source
 order by source
"""


def format_sources(url: str) -> str:
    with connect(url) as conn:
        rows = conn.execute(SOURCES).fetchall()
        refused = conn.execute(
            "select message from ops.load_ledger where outcome = 'refused' order by source_file"
        ).fetchall()
    header = f"{'source':<32} {'loads':>6} {'refused':>8} {'failed':>7} {'received':>9} {'kept':>9} {'MB':>7}"
    lines = [header, "-" * len(header)]
    for source, loads, n_refused, failed, received, kept, size in rows:
        lines.append(
            f"{source:<32} {loads:>6} {n_refused:>8} {failed:>7} {received:>9} {kept:>9} {float(size) / 1e6:>7.1f}"
        )
    if refused:
        lines.append("refused files (whole, nothing of them loaded):")
        lines += [f"  {message}" for (message,) in refused]
    return "\n".join(lines)


def summary_rows(url: str) -> list[tuple]:
    with connect(url) as conn:
        return conn.execute(SUMMARY).fetchall()


def _fit(text: str, width: int) -> str:
    """Cut and pad to a display width (Hangul takes two columns)."""
    out, used = "", 0
    for ch in text:
        w = 2 if unicodedata.east_asian_width(ch) in "WF" else 1
        if used + w > width:
            break
        out, used = out + ch, used + w
    return out + " " * (width - used)


def format_summary(rows: list[tuple]) -> str:
    """Per sub-programme: quota, applications, eligible, and where the decisions stand now: selections
    held (withdrawn ones no longer count; never above the quota), waiting list, not selected, withdrawn
    after a selection or from the waiting list, and selections promoted from the waiting list."""
    names = ("loaded", "eligible", "selected", "waitlist", "not sel.", "withdrawn", "promoted")
    widths = (7, 8, 8, 8, 8, 9, 8)
    header = f"{'code':<5} {'sub-programme':<24} {'quota':>7} " + " ".join(
        f"{n:>{w}}" for n, w in zip(names, widths)
    )
    lines = [header, "-" * len(header)]
    totals = [0] * len(names)
    over_quota = []
    for code, name, quota, *counts in rows:
        lines.append(
            f"{code:<5} {_fit(name or '', 24)} {quota if quota is not None else '-':>7} "
            + " ".join(f"{c:>{w}}" for c, w in zip(counts, widths))
        )
        totals = [t + c for t, c in zip(totals, counts)]
        if quota is not None and counts[2] > quota:
            over_quota.append(code)
    lines.append("-" * len(header))
    lines.append(f"{'all':<5} {'':<24} {'':>7} " + " ".join(f"{c:>{w}}" for c, w in zip(totals, widths)))
    lines.append(
        f"selections held over quota in: {', '.join(over_quota)}"
        if over_quota
        else "selections held are within the quota of every sub-programme"
    )
    return "\n".join(lines)


QUALITY = """
select gate, count(distinct (run_id, business_day)) as runs, count(*) as validations,
       count(*) filter (where not success) as failed, coalesce(sum(warnings), 0) as warnings
  from ops.validation_results group by gate
 order by array_position(array['landing', 'freshness', 'transformed', 'publish'], gate)
"""


def format_quality(url: str, docs_dir) -> str:
    """The quality gates' record: runs, validations, hard failures and warnings per gate."""
    with connect(url) as conn:
        rows = conn.execute(QUALITY).fetchall()
    header = f"{'gate':<12} {'runs':>6} {'validations':>12} {'failed':>7} {'warnings':>9}"
    lines = [header, "-" * len(header)]
    lines += [f"{g:<12} {r:>6} {v:>12} {f:>7} {w:>9}" for g, r, v, f, w in rows]
    lines.append(f"results: ops.validation_results; Data Docs: {docs_dir / 'index.html'}")
    return "\n".join(lines)


CHECKSUM_SCHEMAS = ("raw", "staging", "intermediate", "marts", "restricted", "reference")


def table_checksums(url: str) -> dict[str, tuple[int, str]]:
    """Row count and an order-independent md5 of every table and view of the data schemas (not ops:
    the load ledger is an audit log of attempts and grows with every run by design)."""
    with connect(url) as conn:
        relations = conn.execute(
            """select table_schema, table_name from information_schema.tables
                where table_schema = any(%s) order by 1, 2""",
            (list(CHECKSUM_SCHEMAS),),
        ).fetchall()
        out = {}
        for schema, table in relations:
            # loaded_at / load_id say when a row landed, not what it is; raw rows are only ever
            # inserted once, so a rerun that lands nothing leaves them as they were anyway.
            count, digest = conn.execute(
                sql.SQL(
                    "select count(*), coalesce(md5(string_agg(md5(t::text), '' order by md5(t::text))), '')"
                    " from {}.{} t"
                ).format(sql.Identifier(schema), sql.Identifier(table))
            ).fetchone()
            out[f"{schema}.{table}"] = (count, digest)
    return out


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


VERDICT_REASONS = """
select e.verdict, r.reason_code, max(d.text_ko), count(*)
  from marts.fct_eligibility e
  left join lateral unnest(e.reason_codes) as r (reason_code) on true
  left join marts.dim_reason_code d on d.reason_code = r.reason_code
 group by e.verdict, r.reason_code
"""
VERDICT_ORDER = ("eligible", "incomplete", "needs_review", "ineligible")


def format_verdict_reasons(url: str) -> str:
    """Applications per eligibility verdict, and under each verdict how many carry each reason code
    (an application with several reasons counts under each, so the reasons may add up to more)."""
    with connect(url) as conn:
        totals = dict(
            conn.execute("select verdict, count(*) from marts.fct_eligibility group by 1").fetchall()
        )
        rows = conn.execute(VERDICT_REASONS).fetchall()
    ranked = sorted(totals, key=lambda v: (VERDICT_ORDER.index(v) if v in VERDICT_ORDER else 99, v))
    lines = [f"{'verdict / reason':<34} {'applications':>12}", "-" * 47]
    for verdict in ranked:
        lines.append(f"{verdict:<34} {totals[verdict]:>12}")
        reasons = sorted((r for r in rows if r[0] == verdict and r[1]), key=lambda r: (-r[3], r[1]))
        for _, code, text_ko, count in reasons:
            lines.append(f"  {code:<32} {count:>12}  {text_ko or ''}")
    lines.append("-" * 47)
    lines.append(f"{'all':<34} {sum(totals.values()):>12}")
    return "\n".join(lines)
