"""Scenario simulator: writes the state of every external system of a scenario (shared/sources.md).

A scenario is a directory. This module generates the portal and evaluation parts and, through
``panro.simulate_sources``, the partner channels and reference systems, plus the ground truth of every
defect it injected:

    scenario.json                     name, seed, window, counts, defect rates, committee rounds, sites
    portal/applications.jsonl         every version of every application, ordered by (updated_at, id)
    evaluation/scores_<round_id>.csv  one file a committee round
    sbiz24/o2o_YYYYMMDD.csv           소상공인24 O2O export (CP949), a day's new or changed rows
    kakao/<site>_YYYYMMDD.xlsx        소담스퀘어 KakaoTalk applications, a site's week
    edu/completions_YYYYMMDD.csv      course completions, every 3 days
    nts/status.jsonl                  국세청 status history of every BRN
    reference/<list>.csv              credit checks, FTC decisions, certifications, mail-order, 온누리
    truth/defects.jsonl, summary.json what was broken on purpose, for the tests of the pipeline

Output depends only on the arguments: random streams are ``random.Random`` seeded from ``seed``, no
clock is read, JSON keys are sorted and lines are streamed in a fixed order.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import os
import random
import re
from array import array
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any, TypeVar

from panro import simulate_data as data
from panro import simulate_sources as sources
from panro.brn import brn_check_digit, make_brn, make_corporate_no


def _cum_weights(weights: Iterable[float]) -> list[float]:
    """Cumulative weights, for bisect-based weighted draws."""
    return list(accumulate(weights))


PROGRAMME_YEAR = 2024
ID_PREFIX = "FF24-"
PORTAL_PROGRAMS: tuple[str, ...] = tuple(data.PORTAL_QUOTAS)
_PROGRAM_INDEX = {c: i for i, c in enumerate(PORTAL_PROGRAMS)}
COMMITTEE_PROGRAMS: tuple[str, ...] = tuple(c for c in PORTAL_PROGRAMS if c not in data.FIRST_COME)

DEFECT_KINDS: tuple[str, ...] = (
    "bad_brn_check_digit",
    "excluded_industry",
    "missing_field",
    "malformed_date",
    "duplicate_row",
    "wrong_encoding",
    "truncated_file",
    "wrong_header",
    "merged_title_rows",
)
# Row defects (the first five) apply per record to the portal and per row to the sbiz24 / kakao / edu
# files (excluded_industry: portal and sbiz24 only). File defects apply per file: wrong_encoding to
# sbiz24 files, truncated_file and wrong_header to sbiz24, kakao and edu files, each to
# max(1, round(rate x eligible files)) files when the rate is above 0; merged_title_rows to each
# kakao workbook with that probability.
DEFAULT_DEFECT_RATES: dict[str, float] = {
    "bad_brn_check_digit": 0.02,
    "excluded_industry": 0.03,
    "missing_field": 0.01,
    "malformed_date": 0.005,
    "duplicate_row": 0.01,
    "wrong_encoding": 1 / 30,
    "truncated_file": 1 / 40,
    "wrong_header": 1 / 50,
    "merged_title_rows": 0.5,
}
# Whole-file defects: a reader must refuse the file (merged_title_rows it must cope with).
REFUSED_FILE_DEFECTS: tuple[str, ...] = ("wrong_encoding", "truncated_file", "wrong_header")
SITES: tuple[str, ...] = sources.SITES

# Bonus codes in the order of shared/sources.md §1; claims are listed in this order.
BONUS_CODES: tuple[str, ...] = (
    "online_early",
    "elearning_completed",
    "digital_univ_grad",
    "onnuri_listed",
    "century_store",
    "local_creator",
    "brand_k",
    "eco_store",
    "venture",
    "innobiz",
    "mainbiz",
    "good_design",
    "net",
    "nep",
    "patent",
    "utility_model",
    "rnd_product",
    "smartstore",
)

# Score criteria sorted by name (the file's sort order) with their maxima.
CRITERIA: tuple[tuple[str, int], ...] = (("growth", 30), ("online_readiness", 30), ("product", 40))
SCORE_HEADER = "application_id,round_id,reviewer_id,criterion,score,max_score,conflict_of_interest,scored_at"
REVIEWER_POOL = 60

# Shares of the application life cycle (see _Generator._application).
MISSING_DOC_RATE = 0.05
EXPIRED_CERT_RATE = 0.02
REQUEST_IF_FIXABLE = 0.9
REQUEST_OTHERWISE = 0.062  # so that ~12% of all applications get a supplement request
SUPPLEMENTED_RATE = 0.8
WITHDRAWN_RATE = 0.04
RETURNING_BUSINESS_RATE = 0.12  # an applicant already seen applies to another programme
POOL_SIZE = 5000

DAY = 86_400
T = TypeVar("T")
_TEN = tuple(range(10))
# Cumulative weights over the values of _TEN; a leading 0 weight means that value is never drawn.
_EMPLOYEES_MANUFACTURING = _cum_weights((8, 22, 22, 16, 12, 7, 5, 4, 3, 1))
_EMPLOYEES_OTHER = _cum_weights((12, 30, 25, 15, 12))
_PARTICIPANTS = _cum_weights((0, 35, 30, 18, 11, 6))
_COUNTRY_COUNT = _cum_weights((0, 55, 30, 15))
_REVIEWER_COUNT = _cum_weights((30, 40, 30))  # 3, 4 or 5 reviewers an application
_ROUND_FILE = re.compile(r"scores_(\d{8})-(.+)\.csv")


# --- public helpers ---------------------------------------------------------------------------------


def default_mix(applications: int) -> dict[str, int]:
    """Applications per programme: proportional to quota x oversubscription, summing to ``applications``."""
    if applications < 0:
        raise ValueError("applications must be >= 0")
    weights = {c: data.PORTAL_QUOTAS[c] * data.OVERSUBSCRIPTION[c] for c in PORTAL_PROGRAMS}
    total = sum(weights.values())
    exact = {c: applications * w / total for c, w in weights.items()}
    counts = {c: int(v) for c, v in exact.items()}
    # Largest remainder; ties go to the programme listed first, so the result is stable.
    rest = applications - sum(counts.values())
    order = sorted(PORTAL_PROGRAMS, key=lambda c: (-(exact[c] - counts[c]), PORTAL_PROGRAMS.index(c)))
    for c in order[:rest]:
        counts[c] += 1
    return counts


def round_id_date(round_id: str) -> date:
    """The date of a round id ``YYYYMMDD-<program_code>``."""
    m = re.fullmatch(r"(\d{4})(\d{2})(\d{2})-(.+)", round_id)
    if not m:
        raise ValueError(f"not a round id: {round_id!r}")
    return date(int(m[1]), int(m[2]), int(m[3]))


def read_jsonl(path: Path) -> list[dict]:
    """The JSON objects of a scenario's JSONL file in file order ([] if the file is absent)."""
    if not path.exists():
        return []
    records: list[dict] = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {lineno} is not JSON: {exc.msg}") from exc
            if not isinstance(record, dict):
                raise ValueError(f"{path}: line {lineno} is not a JSON object")  # noqa: TRY004
            records.append(record)
    return records


def load_portal_versions(scenario_dir: Path) -> list[dict]:
    """The records of ``portal/applications.jsonl`` in file order ([] if the file is absent)."""
    return read_jsonl(Path(scenario_dir) / "portal" / "applications.jsonl")


def deliver_files(scenario_dir: Path, drop_dir: Path, day: date) -> list[Path]:
    """Deliver the files the external systems have sent by the end of ``day`` into ``drop_dir``.

    Plays the file deliveries: the score files of rounds dated on or before ``day`` into
    ``evaluation/``; the ``sbiz24/``, ``kakao/`` and ``edu/`` files dated on or before ``day`` under
    their own names; and a snapshot of each reference list as known on ``day``,
    ``reference/<list>_YYYYMMDD.csv`` (rows dated on or before ``day``; days up to the scenario's
    last day). Files already delivered with the same bytes are skipped; each copy is written to a
    temporary name and renamed, so a reader never sees half a file. Returns the paths written by this
    call, score files first.
    """
    written = _deliver_scores(scenario_dir, drop_dir, day)
    written.extend(sources.deliver_sources(Path(scenario_dir), Path(drop_dir), day))
    return written


def _deliver_scores(scenario_dir: Path, drop_dir: Path, day: date) -> list[Path]:
    source = Path(scenario_dir) / "evaluation"
    if not source.is_dir():
        return []
    target = Path(drop_dir) / "evaluation"
    written: list[Path] = []
    for path in sorted(source.glob("scores_*.csv")):
        m = _ROUND_FILE.fullmatch(path.name)
        if not m:
            raise ValueError(f"score file name without a round id: {path}")
        if round_id_date(f"{m[1]}-{m[2]}") > day:
            continue
        content = path.read_bytes()
        dest = target / path.name
        if dest.exists() and dest.read_bytes() == content:
            continue
        target.mkdir(parents=True, exist_ok=True)
        tmp = target / f".{path.name}.{os.getpid()}.tmp"
        tmp.write_bytes(content)
        os.replace(tmp, dest)
        written.append(dest)
    return written


# --- the simulator ----------------------------------------------------------------------------------


def simulate(
    out_dir: Path,
    *,
    seed: int = 2024,
    first_day: date = date(2024, 3, 4),
    days: int = 14,
    applications: int = 3000,
    mix: dict[str, int] | None = None,
    defect_rates: dict[str, float] | None = None,
    name: str = "demo",
    sbiz24_applications: int | None = None,
    kakao_applications: int | None = None,
    edu_other_learners: int | None = None,
) -> dict:
    """Write a scenario (every external system, plus the truth) into ``out_dir``; return scenario.json.

    ``applications`` (or ``mix``) sizes the portal; the partner channels default to shares of the
    portal's total: ``sbiz24_applications`` about 25%, ``kakao_applications`` about 8%, and
    ``edu_other_learners`` (learners who are not portal applicants) about 5%.
    """
    if days < 1:
        raise ValueError("days must be >= 1")
    counts = _check_mix(mix) if mix is not None else default_mix(applications)
    rates = _check_rates(defect_rates)
    total = sum(counts.values())
    if total > 9_999_999:
        raise ValueError("at most 9,999,999 applications (7-digit ids)")
    n_sbiz24 = _check_count("sbiz24_applications", sbiz24_applications, total, sources.SBIZ24_SHARE)
    n_kakao = _check_count("kakao_applications", kakao_applications, total, sources.KAKAO_SHARE)
    n_edu = _check_count("edu_other_learners", edu_other_learners, total, sources.EDU_OTHERS_SHARE)

    out = Path(out_dir)
    for sub in ("portal", "evaluation", "truth"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    # Files of an earlier run in the same directory would be taken for this run's.
    for pattern in _GENERATED:
        for stale in out.glob(pattern):
            stale.unlink()

    gen = _Generator(seed=seed, first_day=first_day, days=days, rates=rates)
    src = sources.Sources(
        gen,
        out,
        seed=seed,
        rates=rates,
        sbiz24_applications=n_sbiz24,
        kakao_applications=n_kakao,
        edu_other_learners=n_edu,
    )
    try:
        gen.observer = src
        portal = gen.write_portal(out / "portal" / "applications.jsonl", counts)
        rounds, score_rows = gen.write_scores(out / "evaluation")
        src.finish()
    finally:
        src.close()

    truth = [
        {"application_id": a, "updated_at": u, "defect": k, "field": f, "source": "portal"}
        for a, u, k, f in sorted(gen.truth, key=lambda r: r[:3])
    ]
    order = {"sbiz24": 0, "kakao": 1, "edu": 2}
    file_truth = sorted(
        src.truth,
        key=lambda r: (order[r["source"]], r["file"], r["line"] or 0, r["defect"], r["field"] or ""),
    )
    defect_counts = {k: 0 for k in DEFECT_KINDS}
    by_source: dict[str, dict[str, int]] = {s: {} for s in ("portal", "sbiz24", "kakao", "edu")}
    for r in (*truth, *file_truth):
        defect_counts[r["defect"]] += 1
        by_source[r["source"]][r["defect"]] = by_source[r["source"]].get(r["defect"], 0) + 1
    refused = sorted(r["file"] for r in file_truth if r["defect"] in REFUSED_FILE_DEFECTS)
    _write_lines(out / "truth" / "defects.jsonl", (_dumps(r) for r in (*truth, *file_truth)))
    _write_json(
        out / "truth" / "summary.json",
        {
            "counts": defect_counts,
            "total": len(truth) + len(file_truth),
            "by_source": by_source,
            "refused_files": refused,
        },
    )

    scenario = {
        "name": name,
        "seed": seed,
        "programme_year": PROGRAMME_YEAR,
        "first_day": first_day.isoformat(),
        "last_day": (first_day + timedelta(days=days - 1)).isoformat(),
        "counts": {
            "applications": total,
            "portal_versions": portal["versions"],
            "portal_lines": portal["lines"],
            "score_rows": score_rows,
            "score_files": len(rounds),
            "by_program": dict(counts),
            "versions_by_status": portal["by_status"],
            "defects": defect_counts,
            **src.counts,
            "reference_rows": dict(src.reference_rows),
            "businesses": len(gen._brns),
        },
        "defect_rates": rates,
        "rounds": rounds,
        "sites": sources.sites(),
    }
    _write_json(out / "scenario.json", scenario)
    return scenario


def _check_mix(mix: dict[str, int]) -> dict[str, int]:
    unknown = sorted(set(mix) - set(PORTAL_PROGRAMS))
    if unknown:
        raise ValueError(f"not portal programmes: {unknown}")
    for code, n in mix.items():
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise ValueError(f"mix[{code!r}] must be an int >= 0, got {n!r}")
    return {c: mix.get(c, 0) for c in PORTAL_PROGRAMS}


# What a run writes besides portal/ and truth/ (removed first, so that no file of an earlier run stays).
_GENERATED: tuple[str, ...] = (
    "evaluation/scores_*.csv",
    "sbiz24/o2o_*.csv",
    "kakao/*.xlsx",
    "edu/completions_*.csv",
    "nts/status.jsonl",
    "reference/*.csv",
)


def _check_count(name: str, value: int | None, total: int, share: float) -> int:
    if value is None:
        return round(total * share)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")
    if value > 9_999_999:
        raise ValueError(f"{name}: at most 9,999,999")
    return value


def _check_rates(defect_rates: dict[str, float] | None) -> dict[str, float]:
    rates = dict(DEFAULT_DEFECT_RATES)
    for kind, rate in (defect_rates or {}).items():
        if kind not in DEFAULT_DEFECT_RATES:
            raise ValueError(f"unknown defect kind {kind!r}; expected one of {list(DEFECT_KINDS)}")
        if not 0.0 <= float(rate) <= 1.0:
            raise ValueError(f"defect rate {kind}={rate!r} is not within [0, 1]")
        rates[kind] = float(rate)
    return rates


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, ensure_ascii=False, sort_keys=True, indent=2) + "\n", encoding="utf-8")


def _write_lines(path: Path, lines: Iterable[str]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line)
            f.write("\n")


class _Generator:
    """Holds the random streams and the bookkeeping shared by the portal and the score files."""

    def __init__(self, *, seed: int, first_day: date, days: int, rates: dict[str, float]) -> None:
        # Separate streams, so that changing a defect rate leaves the businesses and scores as they were.
        self.rng = random.Random(f"{seed}:portal")
        self._random = self.rng.random
        self.drng = random.Random(f"{seed}:defects")
        self.srng = random.Random(f"{seed}:scores")
        self.first_day = first_day
        self._first_weekday = first_day.weekday()
        self.days = days
        self.end_t = days * DAY - 1  # last_day 23:59:59, in seconds from first_day 00:00 KST
        self.rates = rates
        # Portal defects: (application_id, updated_at, defect, field) tuples.
        self.truth: list[tuple[str, str, str, str | None]] = []
        self._day_iso: dict[int, str] = {}
        self._pool: list[tuple[dict, dict, str, str]] = []  # business, online presence, category, brand
        self._brns: set[int] = set()  # every BRN drawn, as an int; membership only, never iterated
        # Per application (index = number - 1): programme, true submission time, withdrawal time.
        self.app_program = array("B")  # index into PORTAL_PROGRAMS
        self.app_sub_t = array("q")
        self.app_withdrawn_t: dict[int, int] = {}
        # Told about every application and its business (panro.simulate_sources.Sources), or None.
        self.observer: Any = None

        self._region_names = [r[0] for r in data.REGIONS]
        self._region_cum = _cum_weights(r[1] for r in data.REGIONS)
        self._region_sigungu = {r[0]: r[2] for r in data.REGIONS}
        self._ksic = [(c, cat) for c, cat, _ in data.KSIC_CODES]
        self._ksic_cum = _cum_weights(w for _, _, w in data.KSIC_CODES)
        self._surnames = [s for s, _ in data.SURNAMES]
        self._surname_cum = _cum_weights(w for _, w in data.SURNAMES)
        self._domains = [d for d, _ in data.EMAIL_DOMAINS]
        self._domain_cum = _cum_weights(w for _, w in data.EMAIL_DOMAINS)
        self._hours = list(range(24))
        self._hour_cum = _cum_weights(data.APPLICANT_HOUR_WEIGHTS)
        self._platforms = [p for p, _ in data.MALL_PLATFORMS]
        self._platform_cum = _cum_weights(w for _, w in data.MALL_PLATFORMS)
        self._countries = [c for c, _ in data.TARGET_COUNTRIES]
        self._country_cum = _cum_weights(w for _, w in data.TARGET_COUNTRIES)
        self._tracks = {
            p: ([t for t, _ in ts], _cum_weights(w for _, w in ts)) for p, ts in data.TRACKS.items()
        }

    @contextlib.contextmanager
    def using(
        self, rng: random.Random, ksic: Sequence[tuple[str, str, float]] | None = None
    ) -> Iterator[None]:
        """Draw from ``rng`` (and optionally another KSIC table) instead of the portal's stream."""
        saved = (self.rng, self._random, self._ksic, self._ksic_cum)
        self.rng, self._random = rng, rng.random
        if ksic is not None:
            self._ksic = [(c, cat) for c, cat, _ in ksic]
            self._ksic_cum = _cum_weights(w for _, _, w in ksic)
        try:
            yield
        finally:
            self.rng, self._random, self._ksic, self._ksic_cum = saved

    # --- fast draws: random.Random's own helpers cost several times more per call, and the
    # simulator makes tens of millions of draws for a large scenario.

    def _below(self, n: int) -> int:
        """Uniform int in [0, n)."""
        return int(self._random() * n)

    def _int(self, a: int, b: int) -> int:
        """Uniform int in [a, b]."""
        return a + int(self._random() * (b - a + 1))

    def _pick(self, seq: Sequence[T]) -> T:
        return seq[int(self._random() * len(seq))]

    def _wpick(self, items: Sequence[T], cum: list[float]) -> T:
        """Weighted choice given cumulative weights."""
        return items[bisect_right(cum, self._random() * cum[-1], 0, len(cum) - 1)]

    # --- time ---------------------------------------------------------------------------------------

    def day_iso(self, day_index: int) -> str:
        s = self._day_iso.get(day_index)
        if s is None:
            s = (self.first_day + timedelta(days=day_index)).isoformat()
            self._day_iso[day_index] = s
        return s

    def ts(self, t: int) -> str:
        d, r = divmod(t, DAY)
        h, r = divmod(r, 3600)
        m, s = divmod(r, 60)
        return f"{self.day_iso(d)}T{h:02d}:{m:02d}:{s:02d}+09:00"

    def _applicant_time(self, day_index: int) -> int:
        hour = self._wpick(self._hours, self._hour_cum)
        return day_index * DAY + hour * 3600 + self._below(3600)

    def _office_time(self, day_index: int) -> int:
        # Officials act on weekdays in office hours: a weekend request waits for Monday.
        while (self._first_weekday + day_index) % 7 >= 5:
            day_index += 1
        return day_index * DAY + self._int(9 * 3600, 18 * 3600 - 1)

    def _submission_times(self, n: int) -> array:
        """``n`` submission times (seconds from first_day 00:00), sorted; held as a compact array."""
        day_weights = [
            data.WEEKDAY_WEIGHTS[(self.first_day + timedelta(days=d)).weekday()] for d in range(self.days)
        ]
        days = self.rng.choices(range(self.days), cum_weights=_cum_weights(day_weights), k=n)
        hours = self.rng.choices(self._hours, cum_weights=self._hour_cum, k=n)
        # Sorting each day's seconds is sorting the whole (a day's offsets are < DAY).
        buckets = [array("l") for _ in range(self.days)]
        below = self._below
        for d, h in zip(days, hours, strict=True):
            buckets[d].append(h * 3600 + below(3600))
        del days, hours
        times = array("q")
        for d in range(self.days):
            base = d * DAY
            times.extend(base + x for x in sorted(buckets[d]))
            buckets[d] = array("l")
        return times

    # --- portal -------------------------------------------------------------------------------------

    def write_portal(self, path: Path, counts: dict[str, int]) -> dict:
        """Stream every version line in (updated_at, application_id) order; return counts.

        A later version (a supplement request, a withdrawal) always falls on a later day than its
        application's submission. It waits in a spool file of its day, read back into a heap when the
        stream reaches that day, so only one day's pending versions are held in memory.
        """
        programs = array("B", (i for i, c in enumerate(PORTAL_PROGRAMS) for _ in range(counts[c])))
        self.rng.shuffle(programs)
        times = self._submission_times(len(programs))
        by_status = {"submitted": 0, "supplement_requested": 0, "supplemented": 0, "withdrawn": 0}
        stats = {"versions": 0, "lines": 0}
        spool_dir = path.parent / f".{path.name}.pending"
        spool_dir.mkdir(exist_ok=True)
        for stale in spool_dir.iterdir():
            stale.unlink()
        spools: dict[int, Any] = {}  # day index -> open spool file of that day's later versions
        pending: list[tuple[int, int, str, bool]] = []  # the current day's: (t, no, line, dup)
        today = -1

        def spool(day_index: int, item: tuple[int, int, str, bool]) -> None:
            if day_index <= today:  # not expected (see above), but kept correct
                heapq.heappush(pending, item)
                return
            g = spools.get(day_index)
            if g is None:
                g = spools[day_index] = (spool_dir / f"{day_index}.tmp").open(
                    "w", encoding="utf-8", newline="\n"
                )
            t, no, line, dup = item
            g.write(f"{t}\t{no}\t{int(dup)}\t{line}")  # a JSON line holds no raw tab or newline

        def load(day_index: int) -> list[tuple[int, int, str, bool]]:
            g = spools.pop(day_index, None)
            if g is None:
                return []
            g.close()
            spool_path = spool_dir / f"{day_index}.tmp"
            items = []
            with spool_path.open(encoding="utf-8", newline="\n") as h:
                for raw in h:
                    t, no, dup, line = raw.split("\t", 3)
                    items.append((int(t), int(no), line, dup == "1"))
            spool_path.unlink()
            heapq.heapify(items)
            return items

        try:
            with path.open("w", encoding="utf-8", newline="\n") as f:

                def emit(no: int, line: str, dup: bool, t: int) -> None:
                    f.write(line)
                    stats["versions"] += 1
                    stats["lines"] += 1
                    if dup:
                        f.write(line)
                        stats["lines"] += 1
                        self.truth.append((f"{ID_PREFIX}{no:07d}", self.ts(t), "duplicate_row", None))

                def advance(day_index: int) -> None:
                    nonlocal today, pending
                    while today < day_index:
                        while pending:
                            pt, pno, line, dup = heapq.heappop(pending)
                            emit(pno, line, dup, pt)
                        today += 1
                        pending = load(today)

                for i, (program_index, sub_t) in enumerate(zip(programs, times, strict=True)):
                    no = i + 1
                    advance(sub_t // DAY)
                    while pending and (pending[0][0], pending[0][1]) < (sub_t, no):
                        pt, pno, line, dup = heapq.heappop(pending)
                        emit(pno, line, dup, pt)
                    versions = self._application(no, PORTAL_PROGRAMS[program_index], sub_t)
                    first = True
                    for t, line, status in versions:
                        by_status[status] += 1
                        dup = self.drng.random() < self.rates["duplicate_row"]
                        if first:
                            emit(no, line, dup, t)
                            first = False
                        else:
                            spool(t // DAY, (t, no, line, dup))
                advance(self.days)
        finally:
            for g in spools.values():
                g.close()
            for leftover in spool_dir.iterdir():
                leftover.unlink()
            spool_dir.rmdir()
        # Versions per status: an application counts once for each status it went through.
        return {"versions": stats["versions"], "lines": stats["lines"], "by_status": by_status}

    def _application(self, no: int, program: str, sub_t: int) -> list[tuple[int, str, str]]:
        """All versions (time, JSON line, status) of one application that fall within the window."""
        app_id = f"{ID_PREFIX}{no:07d}"
        sub_day = self.first_day + timedelta(days=sub_t // DAY)
        sub_ts = self.ts(sub_t)

        evicted: str | None = None
        if self._pool and self._random() < RETURNING_BUSINESS_RATE:
            business, online, category, brand = self._pool[self._below(len(self._pool))]
            new = False
        else:
            business, online, category, brand = self._new_business(sub_day, program)
            new = True
            if len(self._pool) < POOL_SIZE:
                self._pool.append((business, online, category, brand))
            else:
                slot = self._below(POOL_SIZE)
                evicted = self._pool[slot][0]["brn"]
                self._pool[slot] = (business, online, category, brand)

        track = None
        if program in self._tracks:
            names, cum = self._tracks[program]
            track = self._wpick(names, cum)
        claims = self._bonus_claims(online)
        if self.observer is not None:
            self.observer.portal_application(business, online, claims, sub_day, new, evicted)
        product = self._product(category, brand)
        docs = self._documents(sub_day, claims)

        # Life cycle: a missing or expired document usually draws a supplement request.
        missing: dict | None = None
        expired = False
        if self._random() < MISSING_DOC_RATE:
            missing = docs.pop(self._below(len(docs)))
        elif self._random() < EXPIRED_CERT_RATE:
            expired = True
            issued = sub_day - timedelta(days=self._int(400, 700))
            docs[0] = self._small_business_cert(issued)
        fixable = missing is not None or expired
        requested = self._random() < (REQUEST_IF_FIXABLE if fixable else REQUEST_OTHERWISE)
        supplemented = requested and self._random() < SUPPLEMENTED_RATE
        withdrawn = self._random() < WITHDRAWN_RATE

        events: list[tuple[int, str]] = []
        if requested:
            req_t = self._office_time(sub_t // DAY + self._int(1, 3))
            events.append((req_t, "supplement_requested"))
            if supplemented:
                sup_t = self._applicant_time(req_t // DAY + self._int(1, 4))
                events.append((sup_t, "supplemented"))
        if withdrawn:
            wd_t = self._applicant_time(sub_t // DAY + self._int(1, 12))
            # A withdrawn application gets no further processing.
            events = [e for e in events if e[0] < wd_t]
            events.append((wd_t, "withdrawn"))
            if wd_t <= self.end_t:
                self.app_withdrawn_t[no] = wd_t

        record: dict[str, Any] = {
            "application_id": app_id,
            "program_code": program,
            "track_code": track,
            "status": "submitted",
            "submitted_at": sub_ts,
            "updated_at": sub_ts,
            "business": dict(business),
            "online_presence": online,
            "product": product,
            "documents": docs,
            "bonus_claims": claims,
            "program_answers": self._program_answers(program, track),
            "consents": {"privacy": self._random() >= 0.01, "third_party": self._random() >= 0.01},
        }
        brn_style = self._random()
        self._inject_defects(record, sub_t, sub_ts)
        # Formatting last: a wrong check digit is typed in the applicant's usual style too.
        brn_digits = record["business"]["brn"]
        if brn_style < 0.70:
            record["business"]["brn"] = f"{brn_digits[:3]}-{brn_digits[3:5]}-{brn_digits[5:]}"
        elif brn_style < 0.95:
            record["business"]["brn"] = brn_digits
        else:
            record["business"]["brn"] = f"{brn_digits[:3]} {brn_digits[3:5]} {brn_digits[5:]}"

        self.app_program.append(_PROGRAM_INDEX[program])
        self.app_sub_t.append(sub_t)

        versions = [(sub_t, _dumps(record) + "\n", "submitted")]
        current = record
        for t, status in events:
            if t > self.end_t:
                break  # not yet happened on the scenario's last day
            nxt = dict(current)
            nxt["status"] = status
            nxt["updated_at"] = self.ts(t)
            if status == "supplemented":
                nxt["documents"] = self._supplement(current["documents"], missing, expired, t)
            versions.append((t, _dumps(nxt) + "\n", status))
            current = nxt
        return versions

    def _inject_defects(self, record: dict, sub_t: int, sub_ts: str) -> None:
        """Break the version-1 record on purpose and log it in the truth (later versions inherit it)."""
        d = self.drng
        draws = [d.random() for _ in range(4)]  # fixed number of draws per application
        app_id = record["application_id"]
        business = record["business"]

        def log(kind: str, field: str) -> None:
            self.truth.append((app_id, sub_ts, kind, field))

        if draws[0] < self.rates["bad_brn_check_digit"]:
            digits = business["brn"]
            wrong = (brn_check_digit(digits[:9]) + d.randint(1, 9)) % 10
            business["brn"] = f"{digits[:9]}{wrong}"
            log("bad_brn_check_digit", "business.brn")
        excluded = draws[1] < self.rates["excluded_industry"]
        if excluded:
            business["ksic_code"] = d.choice(data.EXCLUDED_KSIC)
            log("excluded_industry", "business.ksic_code")
        if draws[2] < self.rates["missing_field"]:
            # An excluded code must stay visible, so such a record loses its consents instead.
            if d.random() < 0.5 and not excluded:
                del business["ksic_code"]
                log("missing_field", "business.ksic_code")
            else:
                del record["consents"]
                log("missing_field", "consents")
        if draws[3] < self.rates["malformed_date"]:
            record["submitted_at"] = self._malformed(sub_t)
            log("malformed_date", "submitted_at")

    def _malformed(self, sub_t: int) -> str:
        d = self.drng
        day = self.first_day + timedelta(days=sub_t // DAY)
        r = sub_t % DAY
        h, m, s = r // 3600, r % 3600 // 60, r % 60
        kind = d.randrange(3)
        if kind == 0:
            return f"{day.year:04d}/{day.month:02d}/{day.day:02d} {h:02d}:{m:02d}"
        if kind == 1:
            return f"{day.year:04d}-{d.choice(data.IMPOSSIBLE_DATES)}T{h:02d}:{m:02d}:{s:02d}+09:00"
        return f"{day.year}. {day.month}. {day.day}. {h:02d}:{m:02d}"

    # --- business data ------------------------------------------------------------------------------

    def _new_business(self, sub_day: date, program: str) -> tuple[dict, dict, str, str]:
        rng = self.rng
        individual = self._random() < 0.85
        brn = make_brn(rng, individual)
        while int(brn) in self._brns:
            brn = make_brn(rng, individual)
        self._brns.add(int(brn))

        sido = self._wpick(self._region_names, self._region_cum)
        sigungus = self._region_sigungu[sido]
        sigungu = self._pick(sigungus) if sigungus else None
        code, category = self._wpick(self._ksic, self._ksic_cum)
        manufacturing = "10" <= code[:2] <= "34"

        name, brand = self._business_name(category, sigungu, individual)
        rep = self._wpick(self._surnames, self._surname_cum) + self._pick(data.GIVEN_NAMES)

        latest = min(date(2023, 12, 31), sub_day - timedelta(days=60))
        earliest = min(date(2005, 1, 1), latest - timedelta(days=365 * 5))
        span = (latest - earliest).days
        # Skewed towards recent years: most applicants are young businesses.
        opened = earliest + timedelta(days=int(span * self._random() ** 0.6))

        if manufacturing:
            employees: float = self._wpick(_TEN, _EMPLOYEES_MANUFACTURING)
            if self._random() < 0.01:
                employees = self._int(10, 15)
        else:
            employees = self._wpick(_TEN, _EMPLOYEES_OTHER)
            if self._random() < 0.02:
                employees = self._int(5, 8)
        if self._random() < 0.15:
            employees += 0.5  # part-timers of 60+ hours a month count as half

        if self._random() < 0.005:
            revenue = self._int(3_000_000, 12_000_000) * 1000
        else:
            mu = 19.1 if individual else 19.6
            revenue = max(5_000_000, round(rng.lognormvariate(mu, 0.85), -3))
        revenue = int(revenue)

        if sigungu:
            address = f"{sido} {sigungu} {self._pick(data.ROAD_NAMES)} {self._int(1, 300)}"
        else:
            address = f"{sido} {self._pick(data.ROAD_NAMES)} {self._int(1, 300)}"
        if self._random() < 0.5:
            address += f", {self._int(1, 5)}층"

        slug = self._slug()
        if not individual and self._random() < 0.4:
            email = f"{self._pick(('info', 'help', 'sales', 'cs'))}@{slug}.co.kr"
        else:
            local = self._pick(data.LATIN_SYLLABLES) + self._pick(data.LATIN_SYLLABLES)
            if self._random() < 0.6:
                local += str(self._int(1, 999))
            email = f"{local}@{self._wpick(self._domains, self._domain_cum)}"

        business = {
            "brn": brn,
            "corporate_no": None if individual else make_corporate_no(rng),
            "name": name,
            "representative_name": rep,
            "business_type": "individual" if individual else "corporation",
            "opened_on": opened.isoformat(),
            "ksic_code": code,
            "ksic_revision": 10,
            "employees": int(employees) if employees == int(employees) else employees,
            "annual_revenue_krw": revenue,
            "sido": sido,
            "sigungu": sigungu,
            "address": address,
            "phone": f"010-{self._int(2000, 9999):04d}-{self._int(0, 9999):04d}",
            "email": email,
        }
        return business, self._online_presence(opened, sub_day, slug, program), category, brand

    def _business_name(self, category: str, sigungu: str | None, individual: bool) -> tuple[str, str]:
        """The registered name and the bare brand (without the company form)."""
        prefix = self._pick(data.NAME_PREFIXES)
        if sigungu and self._random() < 0.15:
            base = sigungu.split()[0]
            if len(base) > 2 and base[-1] in "시군구":
                prefix = base[:-1]
        suffixes = data.NAME_SUFFIXES[category] if self._random() < 0.8 else data.GENERIC_SUFFIXES
        brand = prefix + self._pick(suffixes)
        if individual:
            return brand, brand
        if category == "food" and self._random() < 0.2:
            return f"{data.AGRICULTURAL_CORPORATE_FORM} {brand}", brand
        return self._pick(data.CORPORATE_FORMS).format(brand), brand

    def _slug(self) -> str:
        return (
            self._pick(data.LATIN_SYLLABLES) + self._pick(data.LATIN_SYLLABLES) + self._pick(data.LATIN_WORDS)
        )

    def _date_between(self, start: date, end: date) -> date:
        if end <= start:
            return start
        return start + timedelta(days=self._int(0, (end - start).days))

    def _online_presence(self, opened: date, sub_day: date, slug: str, program: str) -> dict:
        last = sub_day - timedelta(days=1)
        has_mall = self._random() < 0.22
        mail_order = self._random() < 0.7
        smartstore = self._random() < 0.55
        mail_on = self._date_between(opened, last) if mail_order else None
        store_on = self._date_between(max(opened, date(2014, 6, 1)), last) if smartstore else None
        if program == "P-1" and self._random() < 0.85:
            # The pilot is for businesses whose mail-order filing or Smart Store is recent.
            recent = self._date_between(max(opened, sub_day - timedelta(days=330)), last)
            if self._random() < 0.6:
                mail_order, mail_on = True, recent
            else:
                smartstore, store_on = True, recent
        return {
            "has_own_mall": has_mall,
            "own_mall_url": f"https://www.{slug}.co.kr" if has_mall else None,
            "mail_order_registered": mail_order,
            "mail_order_registered_on": mail_on.isoformat() if mail_on else None,
            "smartstore_url": f"https://smartstore.naver.com/{slug}" if smartstore else None,
            "smartstore_opened_on": store_on.isoformat() if store_on else None,
        }

    def _bonus_claims(self, online: dict) -> list[str]:
        claims: set[str] = set()
        # ① online-early: neither an own mall nor a mail-order filing, as of the application year.
        online_early = not online["has_own_mall"] and not online["mail_order_registered"]
        # Some claims are not borne out by the facts: the pipeline must verify, not trust.
        if self._random() < (0.6 if online_early else 0.03):
            claims.add("online_early")
        if self._random() < (0.6 if online["smartstore_url"] else 0.01):
            claims.add("smartstore")
        for code, rate in data.OTHER_BONUS_RATES:
            if self._random() < rate:
                claims.add(code)
        return [c for c in BONUS_CODES if c in claims]

    def _product(self, category: str, brand: str) -> dict:
        noun = self._pick(data.PRODUCT_NOUNS[category])
        if self._random() < 0.7:
            pname = f"{self._pick(data.PRODUCT_MODIFIERS[category])} {noun}"
        elif self._random() < 0.5:
            pname = f"{brand} {noun}"
        else:
            pname = noun
        lo, hi = data.PRICE_RANGES[category]
        price = int(lo * (hi / lo) ** self._random()) // 1000 * 1000
        if self._random() < 0.4:
            price -= 100  # x,900 pricing
        return {
            "name": pname,
            "category": category,
            "is_imported": self._random() < 0.01,
            "is_large_company_product": self._random() < 0.01,
            "unit_price_krw": max(price, 1000),
        }

    def _program_answers(self, program: str, track: str | None) -> dict:
        answers: dict[str, Any] = {
            "participants": None,
            "regular_delivery_capable": None,
            "preferred_platform": None,
            "target_countries": None,
            "broadcast_option": None,
        }
        if program == "1-2":
            # At most 5 staff per business; a few applicants name more.
            if self._random() < 0.02:
                answers["participants"] = self._int(6, 7)
            else:
                answers["participants"] = self._wpick(_TEN, _PARTICIPANTS)
        elif program == "2-7":
            answers["regular_delivery_capable"] = self._random() < 0.92
        elif program == "2-1" and track == "mall_exhibition":
            answers["preferred_platform"] = self._wpick(self._platforms, self._platform_cum)
        elif program == "2-2":
            k = self._wpick(_TEN, _COUNTRY_COUNT)
            picked: list[str] = []
            while len(picked) < k:
                c = self._wpick(self._countries, self._country_cum)
                if c not in picked:
                    picked.append(c)
            answers["target_countries"] = sorted(picked)
        elif program == "2-3":
            answers["broadcast_option"] = track
        return answers

    # --- documents ----------------------------------------------------------------------------------

    def _file_id(self) -> str:
        return f"{self.rng.getrandbits(64):016x}"

    def _small_business_cert(self, issued: date) -> dict:
        # A 소상공인 확인서 is valid until 31 March of the year after its issue.
        return {
            "type": "small_business_cert",
            "file_id": self._file_id(),
            "issued_on": issued.isoformat(),
            "valid_until": date(issued.year + 1, 3, 31).isoformat(),
        }

    def _tax_cert(self, kind: str, issued: date) -> dict:
        # Tax payment certificates are valid for 30 days.
        return {
            "type": kind,
            "file_id": self._file_id(),
            "issued_on": issued.isoformat(),
            "valid_until": (issued + timedelta(days=30)).isoformat(),
        }

    def _evidence(self, code: str) -> dict:
        return {"type": "bonus_evidence", "file_id": self._file_id(), "bonus_code": code}

    def _documents(self, sub_day: date, claims: list[str]) -> list[dict]:
        docs = [
            self._small_business_cert(sub_day - timedelta(days=self._int(3, 330))),
            self._tax_cert("national_tax_cert", sub_day - timedelta(days=self._int(0, 20))),
            self._tax_cert("local_tax_cert", sub_day - timedelta(days=self._int(0, 20))),
        ]
        docs.extend(self._evidence(c) for c in claims)
        return docs

    def _supplement(self, docs: list[dict], missing: dict | None, expired: bool, t: int) -> list[dict]:
        """The documents after a supplement: the missing one uploaded, or a certificate re-issued."""
        day = self.first_day + timedelta(days=t // DAY)
        issued = day - timedelta(days=self._int(0, 2))
        new = list(docs)
        if missing is not None:
            if missing["type"] == "bonus_evidence":
                new.append(self._evidence(missing["bonus_code"]))
            elif missing["type"] == "small_business_cert":
                new.append(self._small_business_cert(issued))
            else:
                new.append(self._tax_cert(missing["type"], issued))
        elif expired:
            new = [d for d in new if d["type"] != "small_business_cert"]
            new.append(self._small_business_cert(issued))
        else:
            # Requested for an unreadable or outdated tax certificate: upload a fresh one.
            kind = self._pick(("national_tax_cert", "local_tax_cert"))
            new = [d for d in new if d["type"] != kind]
            new.append(self._tax_cert(kind, issued))
        return new

    # --- committee scores ---------------------------------------------------------------------------

    def committee_rounds(self) -> list[tuple[int, str]]:
        """(day index, programme) of every committee round within the window, by date then programme."""
        rounds = []
        for code in COMMITTEE_PROGRAMS:
            for d in range(4 + data.ROUND_STAGGER[code], self.days, 7):
                rounds.append((d, code))
        return sorted(rounds, key=lambda r: (r[0], PORTAL_PROGRAMS.index(r[1])))

    def write_scores(self, out: Path) -> tuple[list[dict], int]:
        """Write one score file a non-empty round; return the rounds and the number of rows."""
        rng = self.srng
        rand, gauss = rng.random, rng.gauss
        queues: dict[str, array] = {c: array("l") for c in COMMITTEE_PROGRAMS}
        by_index = [queues.get(c) for c in PORTAL_PROGRAMS]
        for idx, program_index in enumerate(self.app_program):
            queue = by_index[program_index]
            if queue is not None:
                queue.append(idx)
        cursor = {c: 0 for c in COMMITTEE_PROGRAMS}
        rounds: list[dict] = []
        rows_total = 0
        for day_index, code in self.committee_rounds():
            queue = queues[code]
            # Submitted at least 2 days before the round date, i.e. on day_index - 2 or earlier.
            cutoff = (day_index - 1) * DAY
            start = cursor[code]
            stop = start
            while stop < len(queue) and self.app_sub_t[queue[stop]] < cutoff:
                stop += 1
            cursor[code] = stop
            batch = [
                idx
                for idx in queue[start:stop]
                if self.app_withdrawn_t.get(idx + 1, self.end_t + 1) >= day_index * DAY
            ]
            if not batch:
                continue
            round_day = self.day_iso(day_index)
            round_id = f"{round_day.replace('-', '')}-{code}"
            panel = sorted(rng.sample(range(1, REVIEWER_POOL + 1), 7))
            bias = {r: rng.gauss(0.0, 3.0) for r in panel}
            # Streamed in chunks: a round of a large scenario holds hundreds of thousands of rows.
            with (out / f"scores_{round_id}.csv").open("w", encoding="utf-8", newline="\n") as f:
                f.write(SCORE_HEADER + "\n")
                lines: list[str] = []
                for idx in batch:
                    app_id = f"{ID_PREFIX}{idx + 1:07d}"
                    quality = gauss(69.0, 10.5)
                    k = 3 + bisect_right(_REVIEWER_COUNT, rand() * _REVIEWER_COUNT[-1], 0, 2)
                    for r in sorted(rng.sample(panel, k)):
                        total = min(100.0, max(10.0, quality + bias[r] + gauss(0.0, 5.0)))
                        product = min(40, max(0, round(total * 0.4 + gauss(0.0, 1.5))))
                        online = min(30, max(0, round(total * 0.3 + gauss(0.0, 1.5))))
                        growth = min(30, max(0, round(total) - product - online))
                        coi = "Y" if rand() < 0.05 else "N"
                        # Scored between 10:00:00 and 17:00:00 of the round day.
                        clock = 10 * 3600 + int(rand() * (7 * 3600 + 1))
                        scored_at = (
                            f"{round_day}T{clock // 3600:02d}:{clock % 3600 // 60:02d}:{clock % 60:02d}+09:00"
                        )
                        head = f"{app_id},{round_id},R{r:03d},"
                        tail = f",{coi},{scored_at}\n"
                        # CRITERIA order: growth, online_readiness, product.
                        lines.append(f"{head}growth,{growth},30{tail}")
                        lines.append(f"{head}online_readiness,{online},30{tail}")
                        lines.append(f"{head}product,{product},40{tail}")
                    if len(lines) >= 30_000:
                        rows_total += len(lines)
                        f.writelines(lines)
                        lines.clear()
                rows_total += len(lines)
                f.writelines(lines)
            rounds.append({"round_id": round_id, "program_code": code, "round_date": round_day})
        return rounds, rows_total


def main(argv: list[str] | None = None) -> int:
    """Command line: ``python -m panro.simulate OUT_DIR [--applications N] ...``."""
    p = argparse.ArgumentParser(prog="panro.simulate", description=__doc__.splitlines()[0])
    p.add_argument("out_dir", type=Path)
    p.add_argument("--seed", type=int, default=2024)
    p.add_argument("--first-day", type=date.fromisoformat, default=date(2024, 3, 4))
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--applications", type=int, default=3000)
    p.add_argument("--sbiz24-applications", type=int, default=None)
    p.add_argument("--kakao-applications", type=int, default=None)
    p.add_argument("--edu-other-learners", type=int, default=None)
    p.add_argument("--name", default="demo")
    args = p.parse_args(argv)
    scenario = simulate(
        args.out_dir,
        seed=args.seed,
        first_day=args.first_day,
        days=args.days,
        applications=args.applications,
        name=args.name,
        sbiz24_applications=args.sbiz24_applications,
        kakao_applications=args.kakao_applications,
        edu_other_learners=args.edu_other_learners,
    )
    print(json.dumps(scenario["counts"], ensure_ascii=False, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
