"""The scenario simulator: layout, determinism, record shape, life cycles, defects, scores, delivery."""

from __future__ import annotations

import csv
import itertools
import json
import re
import statistics
import time
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from panro import simulate_data as data
from panro.brn import is_valid_brn, is_valid_corporate_no, normalize_brn
from panro.simulate import (
    COMMITTEE_PROGRAMS,
    DEFECT_KINDS,
    PORTAL_PROGRAMS,
    SCORE_HEADER,
    default_mix,
    deliver_files,
    load_portal_versions,
    round_id_date,
    simulate,
)

FIRST_DAY = date(2024, 3, 4)
DAYS = 14
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
TS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+09:00")

TOP_KEYS = {
    "application_id",
    "program_code",
    "track_code",
    "status",
    "submitted_at",
    "updated_at",
    "business",
    "online_presence",
    "product",
    "documents",
    "bonus_claims",
    "program_answers",
    "consents",
}
BUSINESS_KEYS = {
    "brn",
    "corporate_no",
    "name",
    "representative_name",
    "business_type",
    "opened_on",
    "ksic_code",
    "ksic_revision",
    "employees",
    "annual_revenue_krw",
    "sido",
    "sigungu",
    "address",
    "phone",
    "email",
}
ONLINE_KEYS = {
    "has_own_mall",
    "own_mall_url",
    "mail_order_registered",
    "mail_order_registered_on",
    "smartstore_url",
    "smartstore_opened_on",
}
PRODUCT_KEYS = {"name", "category", "is_imported", "is_large_company_product", "unit_price_krw"}
ANSWER_KEYS = {
    "participants",
    "regular_delivery_capable",
    "preferred_platform",
    "target_countries",
    "broadcast_option",
}
REQUIRED_DOCS = {"small_business_cert", "national_tax_cert", "local_tax_cert"}
CHAINS = {
    ("submitted",),
    ("submitted", "supplement_requested"),
    ("submitted", "supplement_requested", "supplemented"),
    ("submitted", "withdrawn"),
    ("submitted", "supplement_requested", "withdrawn"),
    ("submitted", "supplement_requested", "supplemented", "withdrawn"),
}


def _parse_ts(value: str) -> datetime:
    assert TS.fullmatch(value), value
    return datetime.fromisoformat(value)


def _well_formed(value: str) -> bool:
    if not TS.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _read_scores(root: Path) -> dict[str, list[dict]]:
    files = {}
    for path in sorted((root / "evaluation").glob("scores_*.csv")):
        with path.open(encoding="utf-8", newline="") as f:
            assert f.readline().rstrip("\n") == SCORE_HEADER
            f.seek(0)
            files[path.name] = list(csv.DictReader(f))
    return files


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("scenario")
    meta = simulate(root, seed=7, first_day=FIRST_DAY, days=DAYS, applications=3000, name="test")
    return root, meta


@pytest.fixture(scope="module")
def records(scenario) -> list[dict]:
    return load_portal_versions(scenario[0])


@pytest.fixture(scope="module")
def chains(records) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = defaultdict(list)
    previous = None
    for r in records:
        if r == previous:
            continue  # an injected duplicate line
        out[r["application_id"]].append(r)
        previous = r
    return out


@pytest.fixture(scope="module")
def all_truth(scenario) -> list[dict]:
    path = scenario[0] / "truth" / "defects.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def truth(all_truth) -> list[dict]:
    """The portal's truth rows (the file sources are tested in test_simulate_sources.py)."""
    return [t for t in all_truth if t["source"] == "portal"]


def _truth_ids(truth: list[dict], kind: str, field: str | None = None) -> set[str]:
    return {
        t["application_id"] for t in truth if t["defect"] == kind and (field is None or t["field"] == field)
    }


# --- layout, counts, determinism ----------------------------------------------------------------------


def test_same_arguments_same_bytes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    meta_a = simulate(a, seed=11, applications=1500)
    meta_b = simulate(b, seed=11, applications=1500)
    assert meta_a == meta_b
    files_a, files_b = _tree_bytes(a), _tree_bytes(b)
    assert files_a.keys() == files_b.keys()
    assert files_a == files_b
    simulate(tmp_path / "c", seed=12, applications=1500)
    assert _tree_bytes(tmp_path / "c") != files_a


def test_layout_and_counts(scenario, records, chains, all_truth) -> None:
    root, meta = scenario
    assert json.loads((root / "scenario.json").read_text(encoding="utf-8")) == meta
    assert meta["name"] == "test" and meta["seed"] == 7 and meta["programme_year"] == 2024
    assert meta["first_day"] == FIRST_DAY.isoformat() and meta["last_day"] == LAST_DAY.isoformat()
    assert set(meta["defect_rates"]) == set(DEFECT_KINDS)
    counts = meta["counts"]
    assert counts["applications"] == 3000 == len(chains)
    assert counts["portal_lines"] == len(records)
    assert counts["portal_versions"] == len({(r["application_id"], r["updated_at"]) for r in records})
    assert counts["by_program"] == default_mix(3000)
    assert Counter(v[0]["program_code"] for v in chains.values()) == +Counter(counts["by_program"])
    scores = _read_scores(root)
    assert counts["score_rows"] == sum(len(rows) for rows in scores.values())
    assert counts["score_files"] == len(scores) == len(meta["rounds"])
    assert sorted(scores) == sorted(f"scores_{r['round_id']}.csv" for r in meta["rounds"])
    summary = json.loads((root / "truth" / "summary.json").read_text(encoding="utf-8"))
    expected = {k: 0 for k in DEFECT_KINDS} | Counter(t["defect"] for t in all_truth)
    assert summary["counts"] == counts["defects"] == expected
    assert summary["total"] == len(all_truth)
    assert all(counts["defects"][k] > 0 for k in DEFECT_KINDS), counts["defects"]


def test_default_mix_is_proportional_and_exact() -> None:
    for n in (0, 1, 13, 3000, 200_000):
        mix = default_mix(n)
        assert sum(mix.values()) == n
        assert list(mix) == list(PORTAL_PROGRAMS)
    mix = default_mix(100_000)
    weights = {c: data.PORTAL_QUOTAS[c] * data.OVERSUBSCRIPTION[c] for c in PORTAL_PROGRAMS}
    total = sum(weights.values())
    for code, n in mix.items():
        assert abs(n - 100_000 * weights[code] / total) <= 1
        assert 1.5 <= data.OVERSUBSCRIPTION[code] <= 4


def test_mix_override(tmp_path: Path) -> None:
    meta = simulate(tmp_path, applications=999, mix={"2-5": 40, "P-1": 7, "1-2": 0})
    assert meta["counts"]["applications"] == 47
    got = Counter(r["program_code"] for r in load_portal_versions(tmp_path) if r["status"] == "submitted")
    assert got == {"2-5": 40, "P-1": 7}
    with pytest.raises(ValueError):
        simulate(tmp_path / "x", mix={"3-3": 5})
    with pytest.raises(ValueError):
        simulate(tmp_path / "x", mix={"2-5": -1})


def test_defect_rate_override(tmp_path: Path) -> None:
    meta = simulate(tmp_path, applications=800, defect_rates={k: 0.0 for k in DEFECT_KINDS})
    assert meta["counts"]["defects"] == {k: 0 for k in DEFECT_KINDS}
    assert (tmp_path / "truth" / "defects.jsonl").read_text() == ""
    assert all(is_valid_brn(r["business"]["brn"]) for r in load_portal_versions(tmp_path))
    with pytest.raises(ValueError):
        simulate(tmp_path, defect_rates={"typo": 0.1})
    with pytest.raises(ValueError):
        simulate(tmp_path, defect_rates={"duplicate_row": 1.5})


def test_defect_rates_do_not_move_the_businesses(tmp_path: Path) -> None:
    """Defects draw from their own stream: a clean run is the same scenario without the defects."""
    simulate(tmp_path / "clean", seed=3, applications=500, defect_rates={k: 0.0 for k in DEFECT_KINDS})
    simulate(tmp_path / "dirty", seed=3, applications=500)
    clean = {r["application_id"]: r for r in load_portal_versions(tmp_path / "clean")}
    dirty = {r["application_id"]: r for r in load_portal_versions(tmp_path / "dirty")}
    assert clean.keys() == dirty.keys()
    same = sum(clean[k]["business"]["name"] == dirty[k]["business"]["name"] for k in clean)
    assert same == len(clean)


def test_large_run_is_fast(tmp_path: Path) -> None:
    started = time.monotonic()
    meta = simulate(tmp_path, applications=20_000)
    elapsed = time.monotonic() - started
    assert meta["counts"]["applications"] == 20_000
    assert elapsed < 10, f"20,000 applications took {elapsed:.1f}s"


# --- portal records -----------------------------------------------------------------------------------


def test_every_record_has_the_contract_keys(records, truth) -> None:
    no_ksic = _truth_ids(truth, "missing_field", "business.ksic_code")
    no_consents = _truth_ids(truth, "missing_field", "consents")
    tracks = {p: {t for t, _ in ts} for p, ts in data.TRACKS.items()}
    for r in records:
        app = r["application_id"]
        expected = TOP_KEYS - ({"consents"} if app in no_consents else set())
        assert set(r) == expected, app
        assert set(r["business"]) == BUSINESS_KEYS - ({"ksic_code"} if app in no_ksic else set()), app
        assert set(r["online_presence"]) == ONLINE_KEYS
        assert set(r["product"]) == PRODUCT_KEYS
        assert set(r["program_answers"]) == ANSWER_KEYS
        assert re.fullmatch(r"FF24-\d{7}", app)
        assert r["program_code"] in PORTAL_PROGRAMS
        if r["program_code"] in tracks:
            assert r["track_code"] in tracks[r["program_code"]]
        else:
            assert r["track_code"] is None
        if "consents" in r:
            assert set(r["consents"]) == {"privacy", "third_party"}
        for doc in r["documents"]:
            assert doc["type"] in REQUIRED_DOCS | {"bonus_evidence"}
            assert re.fullmatch(r"[0-9a-f]{16}", doc["file_id"])
            if doc["type"] == "bonus_evidence":
                assert set(doc) == {"type", "file_id", "bonus_code"}
            else:
                assert set(doc) == {"type", "file_id", "issued_on", "valid_until"}
                assert doc["issued_on"] < doc["valid_until"]


def test_business_data_is_plausible(chains) -> None:
    firsts = [v[0] for v in chains.values()]
    regions = {name: set(sigungu) for name, _, sigungu in data.REGIONS}
    assert len(regions) == 17 and "전북특별자치도" in regions and "강원특별자치도" in regions
    for r in firsts:
        b = r["business"]
        assert b["sido"] in regions
        assert (b["sigungu"] is None) if not regions[b["sido"]] else (b["sigungu"] in regions[b["sido"]])
        assert re.fullmatch(r"010-\d{4}-\d{4}", b["phone"])
        assert "@" in b["email"]
        assert b["ksic_revision"] == 10
        assert "2005-01-01" <= b["opened_on"] <= "2023-12-31"
        assert b["employees"] * 2 == int(b["employees"] * 2) and b["employees"] >= 0
        assert b["annual_revenue_krw"] > 0
        if b["business_type"] == "corporation":
            assert is_valid_corporate_no(b["corporate_no"])
        else:
            assert b["business_type"] == "individual" and b["corporate_no"] is None
        assert r["product"]["category"] in data.PRICE_RANGES
        assert r["product"]["unit_price_krw"] > 0
        evidence = {d["bonus_code"] for d in r["documents"] if d["type"] == "bonus_evidence"}
        assert evidence <= set(r["bonus_claims"])
        if len(r["documents"]) == 3 + len(r["bonus_claims"]):  # nothing missing
            assert evidence == set(r["bonus_claims"])
        answers = r["program_answers"]
        if r["program_code"] == "1-2":
            assert 1 <= answers["participants"] <= 7
        if r["program_code"] == "2-2":
            assert answers["target_countries"] and all(len(c) == 2 for c in answers["target_countries"])
        if r["program_code"] == "2-3":
            assert answers["broadcast_option"] == r["track_code"]
        if r["program_code"] == "2-7":
            assert isinstance(answers["regular_delivery_capable"], bool)
    n = len(firsts)
    corporate = sum(r["business"]["business_type"] == "corporation" for r in firsts) / n
    assert 0.10 < corporate < 0.20
    revenues = sorted(r["business"]["annual_revenue_krw"] for r in firsts)
    assert 30_000_000 <= revenues[n // 10] and revenues[9 * n // 10] <= 900_000_000
    small = sum(r["business"]["employees"] < 5 for r in firsts) / n
    assert small > 0.8
    office_hours = sum(9 <= _parse_ts(r["updated_at"]).hour < 18 for r in firsts) / n
    assert office_hours > 0.6
    assert sum(r["product"]["is_imported"] for r in firsts) / n < 0.03
    brn_styles = Counter(
        "dashed" if "-" in r["business"]["brn"] else "spaced" if " " in r["business"]["brn"] else "plain"
        for r in firsts
    )
    assert set(brn_styles) == {"dashed", "spaced", "plain"}


def test_normal_ksic_codes_avoid_the_exclusion_list() -> None:
    for code, category, weight in data.KSIC_CODES:
        assert re.fullmatch(r"\d{5}", code) and weight > 0 and category in data.PRICE_RANGES
        assert not code.startswith(data.EXCLUSION_PREFIXES), code
    for code in data.EXCLUDED_KSIC:
        assert code.startswith(data.EXCLUSION_PREFIXES), code


def test_lines_are_ordered_by_updated_at_then_id(records) -> None:
    keys = [(_parse_ts(r["updated_at"]), r["application_id"]) for r in records]
    assert keys == sorted(keys)
    start = datetime.fromisoformat(f"{FIRST_DAY}T00:00:00+09:00")
    end = datetime.fromisoformat(f"{LAST_DAY}T23:59:59+09:00")
    assert all(start <= k[0] <= end for k in keys)


def test_ids_are_sequential_by_first_submission(chains) -> None:
    ids = sorted(chains)
    assert ids == [f"FF24-{i:07d}" for i in range(1, len(ids) + 1)]
    firsts = [_parse_ts(chains[i][0]["updated_at"]) for i in ids]
    assert firsts == sorted(firsts)


def test_version_chains_are_coherent(chains) -> None:
    statuses = Counter()
    for app, versions in chains.items():
        chain = tuple(v["status"] for v in versions)
        assert chain in CHAINS, (app, chain)
        statuses.update(set(chain))
        v1 = versions[0]
        if _well_formed(v1["submitted_at"]):
            assert v1["submitted_at"] == v1["updated_at"]
        times = [_parse_ts(v["updated_at"]) for v in versions]
        assert times == sorted(times) and len(set(times)) == len(times)
        for prev, cur in itertools.pairwise(versions):
            assert cur["submitted_at"] == v1["submitted_at"]
            for key in TOP_KEYS - {"status", "updated_at", "documents"}:
                assert cur.get(key) == prev.get(key), (app, key)
            if cur["status"] == "supplement_requested":
                assert cur["updated_at"][:10] >= v1["updated_at"][:10]
                assert datetime.fromisoformat(cur["updated_at"]).weekday() < 5  # officials' working day
                assert 9 <= datetime.fromisoformat(cur["updated_at"]).hour < 18
            if cur["status"] == "supplemented":
                required = {d["type"] for d in cur["documents"]} & REQUIRED_DOCS
                assert required == REQUIRED_DOCS
                evidence = {d["bonus_code"] for d in cur["documents"] if d["type"] == "bonus_evidence"}
                assert evidence == set(cur["bonus_claims"])
                assert cur["documents"] != prev["documents"]
            else:
                assert cur["documents"] == prev["documents"]
    n = len(chains)
    # Rates of the life cycle, lowered a little by events that fall after the last day.
    assert 0.06 < statuses["supplement_requested"] / n < 0.16
    assert 0.01 < statuses["withdrawn"] / n < 0.06
    incomplete = sum(len(v[0]["documents"]) < 3 + len(v[0]["bonus_claims"]) for v in chains.values()) / n
    assert 0.03 < incomplete < 0.08


# --- defects ------------------------------------------------------------------------------------------


def test_truth_rows_point_at_version_one(chains, truth) -> None:
    for t in truth:
        assert t["defect"] in DEFECT_KINDS
        versions = chains[t["application_id"]]
        if t["defect"] == "duplicate_row":
            assert t["updated_at"] in {v["updated_at"] for v in versions}
        else:
            assert t["updated_at"] == versions[0]["updated_at"]


def test_bad_brn_check_digits_match_the_truth(chains, truth) -> None:
    invalid = set()
    for app, versions in chains.items():
        for v in versions:
            assert normalize_brn(v["business"]["brn"]) is not None, app  # always 10 digits
            if not is_valid_brn(v["business"]["brn"]):
                invalid.add(app)
    assert invalid == _truth_ids(truth, "bad_brn_check_digit")


def test_excluded_industries_match_the_truth(chains, truth) -> None:
    excluded = set()
    for app, versions in chains.items():
        code = versions[0]["business"].get("ksic_code")
        if code is not None and code.startswith(data.EXCLUSION_PREFIXES):
            assert code in data.EXCLUDED_KSIC
            excluded.add(app)
    assert excluded == _truth_ids(truth, "excluded_industry")


def test_missing_fields_match_the_truth(records, truth) -> None:
    no_ksic = {r["application_id"] for r in records if "ksic_code" not in r["business"]}
    no_consents = {r["application_id"] for r in records if "consents" not in r}
    assert no_ksic == _truth_ids(truth, "missing_field", "business.ksic_code")
    assert no_consents == _truth_ids(truth, "missing_field", "consents")
    assert not no_ksic & _truth_ids(truth, "excluded_industry")


def test_malformed_dates_match_the_truth(records, truth) -> None:
    malformed = set()
    for r in records:
        assert _well_formed(r["updated_at"])  # the portal sets updated_at itself
        if not _well_formed(r["submitted_at"]):
            malformed.add(r["application_id"])
    assert malformed == _truth_ids(truth, "malformed_date")


def test_duplicate_rows_are_exactly_the_listed_ones(scenario, truth) -> None:
    lines = (scenario[0] / "portal" / "applications.jsonl").read_text(encoding="utf-8").splitlines()
    adjacent = []
    for prev, cur in itertools.pairwise(lines):
        if prev == cur:
            record = json.loads(cur)
            adjacent.append((record["application_id"], record["updated_at"]))
    listed = sorted((t["application_id"], t["updated_at"]) for t in truth if t["defect"] == "duplicate_row")
    assert sorted(adjacent) == listed
    # No line repeats anywhere else.
    assert len(set(lines)) == len(lines) - len(listed)


# --- committee scores ---------------------------------------------------------------------------------


def test_rounds_follow_the_weekly_schedule(scenario) -> None:
    meta = scenario[1]
    for r in meta["rounds"]:
        day = round_id_date(r["round_id"])
        assert r["round_id"] == f"{day:%Y%m%d}-{r['program_code']}"
        assert r["round_date"] == day.isoformat()
        assert FIRST_DAY <= day <= LAST_DAY
        assert r["program_code"] in COMMITTEE_PROGRAMS and r["program_code"] not in {"1-2", "2-8"}
        offset = (day - FIRST_DAY).days - 4 - data.ROUND_STAGGER[r["program_code"]]
        assert offset >= 0 and offset % 7 == 0
    assert {r["program_code"] for r in meta["rounds"]} == set(COMMITTEE_PROGRAMS)
    with pytest.raises(ValueError):
        round_id_date("2024-03-08-2-5")


def test_score_files_shape(scenario) -> None:
    for name, rows in _read_scores(scenario[0]).items():
        round_id = name[len("scores_") : -len(".csv")]
        day = round_id_date(round_id)
        keys = [(r["application_id"], r["reviewer_id"], r["criterion"]) for r in rows]
        assert keys == sorted(keys) and len(set(keys)) == len(keys)
        reviewers: dict[str, dict[str, set]] = defaultdict(lambda: defaultdict(set))
        for r in rows:
            assert r["round_id"] == round_id
            assert re.fullmatch(r"R\d{3}", r["reviewer_id"])
            maximum = {"product": 40, "online_readiness": 30, "growth": 30}[r["criterion"]]
            assert int(r["max_score"]) == maximum and 0 <= int(r["score"]) <= maximum
            assert r["conflict_of_interest"] in {"Y", "N"}
            at = _parse_ts(r["scored_at"])
            assert at.date() == day and (10, 0, 0) <= (at.hour, at.minute, at.second) <= (17, 0, 0)
            reviewers[r["application_id"]][r["reviewer_id"]].add((r["criterion"], r["conflict_of_interest"]))
        for app, by_reviewer in reviewers.items():
            assert 3 <= len(by_reviewer) <= 5, app
            for entries in by_reviewer.values():
                assert {c for c, _ in entries} == {"product", "online_readiness", "growth"}
                assert len({f for _, f in entries}) == 1  # one flag per reviewer


def test_rounds_score_exactly_the_due_applications(scenario, chains) -> None:
    meta = scenario[1]
    scored_in: dict[str, str] = {}
    for rows in _read_scores(scenario[0]).values():
        for r in rows:
            assert scored_in.setdefault(r["application_id"], r["round_id"]) == r["round_id"]  # one round only
    for r in meta["rounds"]:
        day = round_id_date(r["round_id"])
        for app, versions in chains.items():
            if versions[0]["program_code"] != r["program_code"]:
                continue
            submitted = _parse_ts(versions[0]["updated_at"]).date()
            withdrawn = [_parse_ts(v["updated_at"]).date() for v in versions if v["status"] == "withdrawn"]
            due = submitted <= day - timedelta(days=2) and not (withdrawn and withdrawn[0] < day)
            earlier = app in scored_in and round_id_date(scored_in[app]) < day
            assert (scored_in.get(app) == r["round_id"]) == (due and not earlier), (app, r["round_id"])
    for app in scored_in:
        assert chains[app][0]["program_code"] in COMMITTEE_PROGRAMS


def test_score_distribution(scenario) -> None:
    totals: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    flags = Counter()
    for rows in _read_scores(scenario[0]).values():
        for r in rows:
            if r["criterion"] == "product":
                flags[r["conflict_of_interest"]] += 1
            if r["conflict_of_interest"] == "N":
                totals[r["application_id"]][r["reviewer_id"]] += int(r["score"])
    means = [statistics.mean(v.values()) for v in totals.values() if v]
    below = sum(m < 60 for m in means) / len(means)
    assert 0.13 < below < 0.28
    everything = sorted(t for v in totals.values() for t in v.values())
    assert 50 <= statistics.median(everything) <= 80
    assert 0.02 < flags["Y"] / (flags["Y"] + flags["N"]) < 0.09


# --- delivery and reading ---------------------------------------------------------------------------


def test_deliver_files_by_day_and_idempotent(scenario, tmp_path: Path) -> None:
    root, meta = scenario
    drop = tmp_path / "drop"
    day = FIRST_DAY + timedelta(days=5)
    expected = sorted(
        f"scores_{r['round_id']}.csv" for r in meta["rounds"] if date.fromisoformat(r["round_date"]) <= day
    )
    assert expected, "the window must hold an early round"
    written = [p for p in deliver_files(root, drop, day) if p.parent.name == "evaluation"]
    assert sorted(p.name for p in written) == expected
    assert sorted(p.name for p in (drop / "evaluation").iterdir()) == expected  # no temporary files left
    for p in written:
        assert p.read_bytes() == (root / "evaluation" / p.name).read_bytes()
    assert deliver_files(root, drop, day) == []
    # A file changed at the source is delivered again.
    first = drop / "evaluation" / expected[0]
    first.write_text("stale\n")
    assert deliver_files(root, drop, day) == [first]
    everything = [p for p in deliver_files(root, drop, LAST_DAY) if p.parent.name == "evaluation"]
    assert len(everything) == len(meta["rounds"]) - len(expected)
    assert deliver_files(root, drop, LAST_DAY + timedelta(days=30)) == []
    assert deliver_files(tmp_path / "no-scenario", drop, LAST_DAY) == []


def test_load_portal_versions(tmp_path: Path) -> None:
    assert load_portal_versions(tmp_path) == []
    portal = tmp_path / "portal"
    portal.mkdir()
    (portal / "applications.jsonl").write_text('{"a": 1}\n\n  \n{"a": 2}\n', encoding="utf-8")
    assert load_portal_versions(tmp_path) == [{"a": 1}, {"a": 2}]
    (portal / "applications.jsonl").write_text('{"a": 1}\n{"a": \n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        load_portal_versions(tmp_path)
    (portal / "applications.jsonl").write_text('{"a": 1}\n\n[1, 2]\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 3"):
        load_portal_versions(tmp_path)


def test_rerun_replaces_stale_score_files(tmp_path: Path) -> None:
    simulate(tmp_path, applications=600, days=14)
    simulate(tmp_path, applications=300, days=7)
    meta = json.loads((tmp_path / "scenario.json").read_text(encoding="utf-8"))
    on_disk = sorted(p.name for p in (tmp_path / "evaluation").glob("scores_*.csv"))
    assert on_disk == sorted(f"scores_{r['round_id']}.csv" for r in meta["rounds"])
