"""The simulator's partner channels and reference systems: formats, ties to the portal, defects, delivery."""

from __future__ import annotations

import json
import re
import time
import zipfile
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from openpyxl import load_workbook

from panro import simulate_data as data
from panro.brn import is_valid_brn, normalize_brn
from panro.simulate import (
    DEFECT_KINDS,
    REFUSED_FILE_DEFECTS,
    SITES,
    deliver_files,
    load_portal_versions,
    simulate,
)
from panro.simulate_sources import EDU_HEADER, KAKAO_HEADER, REFERENCE_LISTS, SBIZ24_HEADER

FIRST_DAY = date(2024, 3, 4)
DAYS = 14
LAST_DAY = FIRST_DAY + timedelta(days=DAYS - 1)
NO_DEFECTS = {k: 0.0 for k in DEFECT_KINDS}
SBIZ24_CHAINS = {
    ("접수",),
    ("접수", "보완요청"),
    ("접수", "보완요청", "접수"),
    ("접수", "취소"),
    ("접수", "보완요청", "취소"),
    ("접수", "보완요청", "접수", "취소"),
}
CERT_CODES = {c for c, _, _ in data.CERT_TYPES}
PARTNER_DIRS = ("sbiz24", "kakao", "edu")
SBIZ24_TS = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def default(tmp_path_factory) -> tuple[Path, dict]:
    """The default rates, 3,000 applications over 14 days."""
    root = tmp_path_factory.mktemp("default")
    return root, simulate(root, seed=7, first_day=FIRST_DAY, days=DAYS, applications=3000, name="test")


@pytest.fixture(scope="module")
def clean(tmp_path_factory) -> tuple[Path, dict]:
    """No defects at all: the facts can be compared across sources without noise."""
    root = tmp_path_factory.mktemp("clean")
    meta = simulate(
        root,
        seed=5,
        first_day=FIRST_DAY,
        days=DAYS,
        applications=2500,
        defect_rates=NO_DEFECTS,
        sbiz24_applications=400,
        kakao_applications=120,
        edu_other_learners=90,
    )
    return root, meta


@pytest.fixture(scope="module")
def dirty(tmp_path_factory) -> tuple[Path, dict]:
    """Many broken files, so that every whole-file defect occurs several times."""
    root = tmp_path_factory.mktemp("dirty")
    rates = {
        "wrong_encoding": 0.25,
        "truncated_file": 0.1,
        "wrong_header": 0.12,
        "duplicate_row": 0.05,
        "malformed_date": 0.04,
        "missing_field": 0.04,
    }
    meta = simulate(root, seed=3, first_day=FIRST_DAY, days=DAYS, applications=1200, defect_rates=rates)
    return root, meta


def _truth(root: Path) -> list[dict]:
    text = (root / "truth" / "defects.jsonl").read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines()]


def _files(root: Path, source: str) -> list[Path]:
    return sorted(p for p in (root / source).iterdir() if p.is_file())


def _name_date(name: str) -> date:
    return datetime.strptime(re.search(r"(\d{8})\.", name)[1], "%Y%m%d").date()


def _refused(root: Path) -> set[str]:
    return {t["file"] for t in _truth(root) if t["defect"] in REFUSED_FILE_DEFECTS}


def _sbiz24_rows(path: Path) -> list[tuple[int, list[str]]]:
    text = path.read_bytes().decode("cp949")
    lines = text.split("\r\n")
    assert lines[-1] == "" and "\n" not in text.replace("\r\n", "")  # CRLF everywhere, ends with one
    assert lines[0] == ",".join(SBIZ24_HEADER)
    return [(i, line.split(",")) for i, line in enumerate(lines[1:-1], start=2)]


def _edu_rows(path: Path) -> list[tuple[int, list[str]]]:
    text = path.read_bytes().decode("utf-8")
    lines = text.split("\n")
    assert lines[-1] == "" and lines[0] == ",".join(EDU_HEADER)
    return [(i, line.split(",")) for i, line in enumerate(lines[1:-1], start=2)]


def _kakao_rows(path: Path) -> tuple[int, list[tuple[int, tuple]]]:
    """(header row number, [(row number, values)]) of a workbook's non-blank rows under the header."""
    wb = load_workbook(path)
    ws = wb["신청목록"]
    top = next(r for r in range(1, 4) if str(ws.cell(r, 1).value or "").strip() == "신청일시")
    assert tuple(c.value for c in ws[top]) == KAKAO_HEADER
    rows = []
    for number, values in enumerate(ws.iter_rows(min_row=top + 1, values_only=True), start=top + 1):
        if any(v is not None and str(v).strip() for v in values):
            rows.append((number, values))
    return top, rows


def _portal_firsts(root: Path) -> list[dict]:
    firsts: dict[str, dict] = {}
    for r in load_portal_versions(root):
        firsts.setdefault(r["application_id"], r)
    return list(firsts.values())


def _reference(root: Path, name: str) -> list[dict]:
    lines = (root / "reference" / f"{name}.csv").read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    assert tuple(header) == REFERENCE_LISTS[name][0]
    return [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]


def _valid_date(text: str, fmt: str) -> bool:
    try:
        datetime.strptime(text, fmt)
    except ValueError:
        return False
    return True


# --- layout, determinism, counts ----------------------------------------------------------------------


def test_same_arguments_same_bytes_for_every_source(tmp_path: Path) -> None:
    runs = []
    for name in ("a", "b"):
        simulate(tmp_path / name, seed=11, applications=600, days=8)
        runs.append(
            {
                str(p.relative_to(tmp_path / name)): p.read_bytes()
                for p in sorted((tmp_path / name).rglob("*"))
                if p.is_file()
            }
        )
    assert runs[0] == runs[1]
    for prefix in ("sbiz24/", "kakao/", "edu/", "nts/", "reference/"):
        assert any(k.startswith(prefix) for k in runs[0]), prefix
    simulate(tmp_path / "c", seed=12, applications=600, days=8)
    assert (tmp_path / "c" / "nts" / "status.jsonl").read_bytes() != runs[0]["nts/status.jsonl"]


def test_sources_leave_the_portal_and_scores_alone(tmp_path: Path) -> None:
    simulate(tmp_path / "all", seed=4, applications=700)
    simulate(tmp_path / "none", seed=4, applications=700, sbiz24_applications=0, kakao_applications=0)
    for folder in ("portal", "evaluation"):
        for path in _files(tmp_path / "all", folder):
            assert path.read_bytes() == (tmp_path / "none" / folder / path.name).read_bytes(), path
    assert _files(tmp_path / "none", "sbiz24") == [] and _files(tmp_path / "none", "kakao") == []
    with pytest.raises(ValueError):
        simulate(tmp_path / "x", applications=10, sbiz24_applications=-1)
    with pytest.raises(ValueError):
        simulate(tmp_path / "x", applications=10, kakao_applications=1.5)


def test_scenario_json_counts_and_sites(default, clean) -> None:
    root, meta = default
    counts = meta["counts"]
    assert counts["sbiz24_applications"] == 750 and counts["kakao_applications"] == 240  # 25% and 8%
    assert counts["edu_other_learners"] == 150
    assert counts["sbiz24_files"] == len(_files(root, "sbiz24"))
    assert counts["kakao_files"] == len(_files(root, "kakao"))
    assert counts["edu_files"] == len(_files(root, "edu"))
    nts_lines = (root / "nts" / "status.jsonl").read_text(encoding="utf-8").splitlines()
    assert counts["nts_lines"] == len(nts_lines)
    assert counts["nts_brns"] == len({json.loads(line)["b_no"] for line in nts_lines})
    for name in REFERENCE_LISTS:
        assert counts["reference_rows"][name] == len(_reference(root, name)), name
    assert [s["code"] for s in meta["sites"]] == list(SITES) and len(SITES) == 8
    assert sum(s["capital_area"] for s in meta["sites"]) == 3
    assert {"seoul_seongsu", "seoul_guro", "gyeonggi_suwon", "busan", "jeonbuk"} <= set(SITES)
    assert set(meta["defect_rates"]) == set(DEFECT_KINDS)
    # The count arguments are honoured.
    clean_root, clean_meta = clean
    ids = set()
    for path in _files(clean_root, "sbiz24"):
        ids.update(cells[0] for _, cells in _sbiz24_rows(path))
    assert len(ids) == clean_meta["counts"]["sbiz24_applications"] == 400
    kakao = sum(len(_kakao_rows(p)[1]) for p in _files(clean_root, "kakao"))
    assert kakao == clean_meta["counts"]["kakao_applications"] == 120


def test_twenty_thousand_applications_are_fast(tmp_path: Path) -> None:
    started = time.monotonic()
    meta = simulate(tmp_path, applications=20_000)
    elapsed = time.monotonic() - started
    assert meta["counts"]["sbiz24_applications"] == 5000
    assert elapsed < 15, f"20,000 applications with every source took {elapsed:.1f}s"


# --- 소상공인24 ----------------------------------------------------------------------------------------


def test_sbiz24_files_follow_the_contract(clean) -> None:
    root, _ = clean
    files = _files(root, "sbiz24")
    assert files and all(re.fullmatch(r"o2o_\d{8}\.csv", p.name) for p in files)
    platforms = {p for p, _ in data.O2O_PLATFORMS}
    chains: dict[str, list[tuple[date, str]]] = defaultdict(list)
    for path in files:
        day = _name_date(path.name)
        assert FIRST_DAY <= day <= LAST_DAY
        for _, cells in _sbiz24_rows(path):
            assert len(cells) == 13
            rid, brn, name, rep, ksic, sido, sigungu, platform, applied, status, staff, revenue, phone = cells
            assert re.fullmatch(r"O2O24-\d{7}", rid)
            assert re.fullmatch(r"\d{3}-\d{2}-\d{5}", brn) and is_valid_brn(brn)
            assert name and rep and re.fullmatch(r"\d{5}", ksic) and sido in data.SIDO_CODES
            assert sigungu or sido == "세종특별자치시"
            assert platform in platforms and status in {"접수", "보완요청", "취소"}
            assert SBIZ24_TS.fullmatch(applied) and datetime.fromisoformat(applied).date() <= day
            assert float(staff) * 2 == int(float(staff) * 2) and int(revenue) > 0
            assert re.fullmatch(r"010-\d{4}-\d{4}", phone)
            chains[rid].append((day, status, applied))
    for rid, chain in chains.items():
        assert tuple(s for _, s, _ in chain) in SBIZ24_CHAINS, rid
        assert chain[0][0] == datetime.fromisoformat(chain[0][2]).date()  # first exported the day it came in
        days = [d for d, _, _ in chain]
        assert days == sorted(days)
        if len(chain) > 1:
            assert days[1] > days[0]  # a change repeats the row in a later day's file
            assert {a for _, _, a in chain} == {chain[0][2]}
    assert sum(len(c) > 1 for c in chains.values()) / len(chains) > 0.05


def test_sbiz24_row_defects_match_the_truth(dirty) -> None:
    root, _ = dirty
    truth = _truth(root)
    refused = _refused(root)
    logged = {
        (t["file"], t["line"], t["defect"], t["field"])
        for t in truth
        if t["source"] == "sbiz24" and t["line"]
    }
    found = set()
    for path in _files(root, "sbiz24"):
        rel = f"sbiz24/{path.name}"
        if rel in refused:
            assert not any(f == rel for f, *_ in logged)
            continue
        previous = None
        for line, cells in _sbiz24_rows(path):
            if cells == previous:
                found.add((rel, line, "duplicate_row", None))
                previous = None
                continue
            previous = cells
            if not is_valid_brn(cells[1]):
                found.add((rel, line, "bad_brn_check_digit", "사업자등록번호"))
            if cells[4].startswith(data.EXCLUSION_PREFIXES):
                found.add((rel, line, "excluded_industry", "업종코드"))
            for i in (2, 3, 4, 5, 10, 11, 12):
                if not cells[i]:
                    found.add((rel, line, "missing_field", SBIZ24_HEADER[i]))
            if not (SBIZ24_TS.fullmatch(cells[8]) and _valid_date(cells[8], "%Y-%m-%d %H:%M:%S")):
                found.add((rel, line, "malformed_date", "신청일시"))
    assert found == logged
    assert {k for _, _, k, _ in found} == {
        "duplicate_row",
        "bad_brn_check_digit",
        "excluded_industry",
        "missing_field",
        "malformed_date",
    }


# --- 소담스퀘어 ----------------------------------------------------------------------------------------


def test_kakao_workbooks_follow_the_contract(default) -> None:
    root, _ = default
    refused = _refused(root)
    truth = _truth(root)
    titled = {t["file"]: t["line"] for t in truth if t["defect"] == "merged_title_rows"}
    by_site = {code: set(sidos) for code, _, _, sidos in data.KAKAO_SITES}
    short_to_sido = {v: k for k, v in data.SIDO_SHORT.items()}
    cell_kinds, consents, padded, blank_tail = Counter(), Counter(), 0, 0
    files = _files(root, "kakao")
    assert {p.name.rsplit("_", 1)[0] for p in files} == set(SITES)
    for path in files:
        rel = f"kakao/{path.name}"
        if rel in refused:
            continue
        site, day = path.name.rsplit("_", 1)[0], _name_date(path.name)
        assert day.weekday() == 6 or day == LAST_DAY
        top, rows = _kakao_rows(path)
        assert titled.get(rel, 1) == top  # title rows above the header are declared, with the header's row
        ws = load_workbook(path)["신청목록"]
        if top > 1:
            assert "소담스퀘어" in ws.cell(1, 1).value
            assert any(str(m) == "A1:H1" for m in ws.merged_cells.ranges)
        blank_tail += ws.max_row > rows[-1][0]
        for _, values in rows:
            when = values[0]
            if isinstance(when, datetime):
                cell_kinds["serial"] += 1
                applied = when.date()
            elif _valid_date(when, "%Y.%m.%d %H:%M"):
                cell_kinds["text_datetime"] += 1
                applied = datetime.strptime(when, "%Y.%m.%d %H:%M").date()
            elif _valid_date(when, "%Y-%m-%d"):
                cell_kinds["text_date"] += 1
                applied = date.fromisoformat(when)
            else:
                continue  # a malformed date, checked against the truth below
            assert (
                day - timedelta(days=6) <= applied <= day and applied.isocalendar()[1] == day.isocalendar()[1]
            )
            region = values[5].strip()
            assert short_to_sido[region.split()[0]] in by_site[site]
            if values[7] is not None:
                consents[values[7].strip()] += 1
            padded += any(isinstance(v, str) and v != v.strip() for v in values)
    assert cell_kinds["serial"] and cell_kinds["text_datetime"] and cell_kinds["text_date"]
    assert set(consents) == {"Y", "N", "동의", "미동의"}
    assert padded and blank_tail
    assert 0 < len(titled) < len(files)


def test_kakao_workbook_cells(default) -> None:
    """A date typed as a serial is a real datetime cell with a date format; text dates are strings."""
    root, _ = default
    for path in _files(root, "kakao"):
        if f"kakao/{path.name}" in _refused(root):
            continue
        ws = load_workbook(path)["신청목록"]
        for row in ws.iter_rows(min_col=1, max_col=1):
            cell = row[0]
            if isinstance(cell.value, datetime):
                assert cell.is_date and "yy" in cell.number_format
                return
    pytest.fail("no serial date cell")


def test_kakao_row_defects_match_the_truth(dirty) -> None:
    root, _ = dirty
    refused = _refused(root)
    logged = {
        (t["file"], t["line"], t["defect"], t["field"])
        for t in _truth(root)
        if t["source"] == "kakao" and t["defect"] != "merged_title_rows" and t["line"]
    }
    found = set()
    for path in _files(root, "kakao"):
        rel = f"kakao/{path.name}"
        if rel in refused:
            continue
        previous = None
        for line, values in _kakao_rows(path)[1]:
            if values == previous:
                found.add((rel, line, "duplicate_row", None))
                previous = None
                continue
            previous = values
            if values[1] is not None and not is_valid_brn(values[1]):
                found.add((rel, line, "bad_brn_check_digit", "사업자등록번호"))
            for i in (1, 2, 3, 4):
                if values[i] is None:
                    found.add((rel, line, "missing_field", KAKAO_HEADER[i]))
            when = values[0]
            if not isinstance(when, datetime) and not (
                _valid_date(when, "%Y.%m.%d %H:%M") or _valid_date(when, "%Y-%m-%d")
            ):
                found.add((rel, line, "malformed_date", "신청일시"))
    assert found == logged
    assert {k for _, _, k, _ in found} >= {"duplicate_row", "bad_brn_check_digit"}


# --- education ----------------------------------------------------------------------------------------


def test_edu_files_follow_the_contract(clean) -> None:
    root, _ = clean
    files = _files(root, "edu")
    days = [_name_date(p.name) for p in files]
    assert days == [FIRST_DAY + timedelta(days=d) for d in (2, 5, 8, 11)]  # every 3 days
    courses = {c for c, _ in data.ELEARNING_COURSES} | {c for c, _ in data.DIGITAL_UNIV_COURSES}
    previous_day = None
    for path, day in zip(files, days, strict=True):
        rows = _edu_rows(path)
        for _, (brn, learner, kind, code, name, completed) in rows:
            assert is_valid_brn(brn) and re.fullmatch(r"L\d{8}", learner)
            assert kind in {"elearning", "digital_univ"} and code in courses and name
            assert code.startswith("EL-") == (kind == "elearning")
            done = date.fromisoformat(completed)
            assert done <= day and (previous_day is None or done > previous_day)  # the first file: backlog
        previous_day = day
    first = _edu_rows(files[0])
    assert any(date.fromisoformat(c[5]) < FIRST_DAY for _, c in first)


def test_edu_row_defects_match_the_truth(dirty) -> None:
    root, _ = dirty
    refused = _refused(root)
    logged = {
        (t["file"], t["line"], t["defect"], t["field"])
        for t in _truth(root)
        if t["source"] == "edu" and t["line"]
    }
    found = set()
    for path in _files(root, "edu"):
        rel = f"edu/{path.name}"
        if rel in refused:
            continue
        previous = None
        for line, cells in _edu_rows(path):
            if cells == previous:
                found.add((rel, line, "duplicate_row", None))
                previous = None
                continue
            previous = cells
            if not is_valid_brn(cells[0]):
                found.add((rel, line, "bad_brn_check_digit", "brn"))
            for i in (1, 2, 3, 5):
                if not cells[i]:
                    found.add((rel, line, "missing_field", EDU_HEADER[i]))
            if cells[5] and not (
                re.fullmatch(r"\d{4}-\d{2}-\d{2}", cells[5]) and _valid_date(cells[5], "%Y-%m-%d")
            ):
                found.add((rel, line, "malformed_date", "completed_on"))
    assert found == logged and found


# --- 국세청 ---------------------------------------------------------------------------------------------


def test_nts_history_is_sorted_and_covers_every_brn(clean) -> None:
    root, meta = clean
    lines = [
        json.loads(line) for line in (root / "nts" / "status.jsonl").read_text(encoding="utf-8").splitlines()
    ]
    keys = [(r["effective_from"], r["b_no"]) for r in lines]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)
    history: dict[str, list[dict]] = defaultdict(list)
    for r in lines:
        assert set(r) == {"b_no", "b_stt_cd", "end_dt", "effective_from"}
        assert re.fullmatch(r"\d{10}", r["b_no"]) and is_valid_brn(r["b_no"])
        assert r["b_stt_cd"] in {"01", "02", "03"}
        assert r["end_dt"] == (r["effective_from"].replace("-", "") if r["b_stt_cd"] == "03" else "")
        assert r["effective_from"] <= LAST_DAY.isoformat()
        history[r["b_no"]].append(r)
    for brn, h in history.items():
        assert h[0]["b_stt_cd"] == "01", brn  # in business from the opening date
    window = (FIRST_DAY.isoformat(), LAST_DAY.isoformat())
    changes = [r for r in lines if r["b_stt_cd"] != "01"]
    assert any(r["b_stt_cd"] == "03" and window[0] <= r["effective_from"] <= window[1] for r in changes)
    assert any(r["b_stt_cd"] == "03" and r["effective_from"] < window[0] for r in changes)
    assert any(r["b_stt_cd"] == "02" for r in changes)
    assert 0.007 < len({r["b_no"] for r in changes}) / len(history) < 0.03

    # Every BRN anywhere in the scenario, except ~0.5% unknown to the tax office.
    seen: set[str] = set()
    opened = {}
    for r in _portal_firsts(root):
        seen.add(normalize_brn(r["business"]["brn"]))
        opened[normalize_brn(r["business"]["brn"])] = r["business"]["opened_on"]
    for path in _files(root, "sbiz24"):
        seen.update(normalize_brn(c[1]) for _, c in _sbiz24_rows(path))
    for path in _files(root, "kakao"):
        seen.update(normalize_brn(v[1]) for _, v in _kakao_rows(path)[1])
    for path in _files(root, "edu"):
        seen.update(normalize_brn(c[0]) for _, c in _edu_rows(path))
    for name in REFERENCE_LISTS:
        seen.update(normalize_brn(r["brn"]) for r in _reference(root, name))
    assert None not in seen
    unknown = seen - set(history)
    assert 0 < len(unknown) / len(seen) < 0.015
    assert set(history) <= seen
    assert len(seen) == meta["counts"]["businesses"]
    for brn, day in opened.items():
        if brn in history:
            assert history[brn][0]["effective_from"] == day


# --- reference lists and the portal -------------------------------------------------------------------


def test_reference_lists_back_most_claims(clean) -> None:
    root, _ = clean
    firsts = _portal_firsts(root)
    completions = defaultdict(list)
    for path in _files(root, "edu"):
        for _, (brn, _, kind, _, _, done) in _edu_rows(path):
            completions[(brn, kind)].append(done)
    certs = defaultdict(list)
    for r in _reference(root, "certifications"):
        certs[(normalize_brn(r["brn"]), r["cert_type"])].append((r["valid_from"], r["valid_to"]))
    onnuri = defaultdict(list)
    for r in _reference(root, "onnuri_listings"):
        assert not r["listed_to"] or r["listed_from"] <= r["listed_to"]
        onnuri[r["brn"]].append(r["listed_from"])

    edu_outcomes, cert_outcomes, onnuri_outcomes = Counter(), Counter(), Counter()
    for app in firsts:
        brn, sub = normalize_brn(app["business"]["brn"]), app["submitted_at"][:10]
        for claim in app["bonus_claims"]:
            if claim in ("elearning_completed", "digital_univ_grad"):
                kind = "elearning" if claim == "elearning_completed" else "digital_univ"
                dates = completions.get((brn, kind), [])
                edu_outcomes["backed" if any(d < sub for d in dates) else "not"] += 1
            elif claim in CERT_CODES:
                spans = certs.get((brn, claim), [])
                if any(f <= sub <= t for f, t in spans):
                    cert_outcomes["valid"] += 1
                elif any(t < sub for _, t in spans):
                    cert_outcomes["expired"] += 1
                elif any(f > sub for f, _ in spans):
                    cert_outcomes["future"] += 1
                else:
                    cert_outcomes["none"] += 1
            elif claim == "onnuri_listed":
                onnuri_outcomes["backed" if any(d < sub for d in onnuri.get(brn, [])) else "not"] += 1
    assert 0.7 < edu_outcomes["backed"] / edu_outcomes.total() < 0.95, edu_outcomes
    assert 0.65 < cert_outcomes["valid"] / cert_outcomes.total() < 0.92, cert_outcomes
    assert cert_outcomes["expired"] and cert_outcomes["future"] and cert_outcomes["none"]
    assert 0.65 < onnuri_outcomes["backed"] / onnuri_outcomes.total() < 0.95, onnuri_outcomes
    assert {r["cert_type"] for r in _reference(root, "certifications")} <= CERT_CODES


def test_credit_fair_trade_and_mail_order(clean) -> None:
    root, _ = clean
    firsts = _portal_firsts(root)
    checks = _reference(root, "credit_checks")
    flagged = {
        r["brn"]
        for r in checks
        if "Y" in (r["national_tax_arrears"], r["local_tax_arrears"], r["financial_default"])
    }
    checked = {r["brn"] for r in checks}
    assert {normalize_brn(a["business"]["brn"]) for a in firsts} <= checked
    assert 0.01 < len(flagged) / len(checked) < 0.06
    assert all(r[k] in {"Y", "N"} for r in checks for k in list(r)[2:])

    applied = defaultdict(set)
    for a in firsts:
        applied[normalize_brn(a["business"]["brn"])].add(date.fromisoformat(a["submitted_at"][:10]))
    violations = _reference(root, "fair_trade_violations")
    assert 0.002 < len({r["brn"] for r in violations}) / len(checked) < 0.015
    gaps = Counter()
    for r in violations:
        decided = date.fromisoformat(r["decided_on"])
        assert (
            re.fullmatch(r"\d{4}\D{2}\d{4}", r["case_no"])
            and r["violation_type"] in data.FAIR_TRADE_VIOLATIONS
        )
        for day in applied.get(r["brn"], ()):
            gaps[(day - decided).days] += 1
    assert gaps[365] and gaps[366]  # the 1-year window is tested at its edge
    assert any(g < 365 for g in gaps) and any(g > 366 for g in gaps)
    assert all(0 < g <= 750 for g in gaps)

    registry = {r["brn"]: r for r in _reference(root, "mail_order_registry")}
    assert {r["status"] for r in registry.values()} == {"정상영업", "휴업", "폐업"}
    same, declared, undeclared = 0, 0, 0
    for a in firsts:
        online, brn = a["online_presence"], normalize_brn(a["business"]["brn"])
        if online["mail_order_registered"]:
            declared += 1
            same += registry.get(brn, {}).get("registered_on") == online["mail_order_registered_on"]
        else:
            undeclared += brn in registry
    assert 0.88 < same / declared < 0.99
    assert undeclared


def test_portal_bites_every_eligibility_rule(default) -> None:
    root, _ = default
    firsts = _portal_firsts(root)
    found = Counter()
    for a in firsts:
        b, sub = a["business"], date.fromisoformat(a["updated_at"][:10])
        code = b.get("ksic_code") or ""
        ten = code[:2] in {f"{d:02d}" for d in range(5, 35)} | {"41", "42", *map(str, range(49, 53))}
        if b["employees"] >= (10 if ten else 5):
            found["employees_10_manufacturing" if ten else "employees_5_other"] += 1
        if code.startswith("47") and b["annual_revenue_krw"] > 5_000_000_000:
            found["retail_over_50억"] += 1
        certs = [d for d in a["documents"] if d["type"] == "small_business_cert"]
        if not certs:
            found["no_small_business_cert"] += 1
        elif all(date.fromisoformat(d["valid_until"]) < sub for d in certs):
            found["expired_small_business_cert"] += 1
        found["imported"] += a["product"]["is_imported"]
        found["large_company"] += a["product"]["is_large_company_product"]
        answers = a["program_answers"]
        if a["program_code"] == "1-2" and answers["participants"] > 5:
            found["participants_over_5"] += 1
        if a["program_code"] == "2-7" and answers["regular_delivery_capable"] is False:
            found["no_regular_delivery"] += 1
        if a["program_code"] == "P-1":
            online = a["online_presence"]
            recent = [
                d
                for d in (online["mail_order_registered_on"], online["smartstore_opened_on"])
                if d and (sub - date.fromisoformat(d)).days < 365
            ]
            if online["mail_order_registered"] and not recent:
                found["p1_mail_order_over_a_year"] += 1
    expected = {
        "employees_10_manufacturing",
        "employees_5_other",
        "retail_over_50억",
        "no_small_business_cert",
        "expired_small_business_cert",
        "imported",
        "large_company",
        "participants_over_5",
        "no_regular_delivery",
        "p1_mail_order_over_a_year",
    }
    assert {k for k, v in found.items() if v} == expected, found


# --- whole-file defects -------------------------------------------------------------------------------


def _problems(source: str, path: Path) -> dict[str, str | None]:
    """The whole-file defects a reader would find in a partner file: {kind: field}."""
    body = path.read_bytes()
    if source == "kakao":
        try:
            wb = load_workbook(path)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError):
            return {"truncated_file": None}
        ws = wb["신청목록"]
        top = next(
            r for r in range(1, 4) if str(ws.cell(r, 1).value or "").strip() in {"신청일시", "접수일시"}
        )
        header = tuple(c.value for c in ws[top] if c.value is not None)
    else:
        eol = b"\r\n" if source == "sbiz24" else b"\n"
        if not body.endswith(eol):
            return {"truncated_file": None}
        if source == "sbiz24":
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                assert "접수번호" in body.decode("utf-8")  # valid UTF-8 with Hangul: the wrong encoding
                return {"wrong_encoding": None}
        header = tuple(
            body.decode("cp949" if source == "sbiz24" else "utf-8").split(eol.decode())[0].split(",")
        )
    expected = {"sbiz24": SBIZ24_HEADER, "kakao": KAKAO_HEADER, "edu": EDU_HEADER}[source]
    if header != expected:
        missing = [c for c in expected if c not in header]
        return {"wrong_header": missing[0] if missing else None}
    return {}


def test_whole_file_defects_are_exactly_the_declared_ones(dirty, default) -> None:
    for root, meta in (dirty, default):
        truth = _truth(root)
        declared = defaultdict(dict)
        for t in truth:
            if t["defect"] in REFUSED_FILE_DEFECTS:
                assert t["line"] is None and t["detail"]
                declared[t["file"]][t["defect"]] = t["field"]
        summary = json.loads((root / "truth" / "summary.json").read_text(encoding="utf-8"))
        assert summary["refused_files"] == sorted(declared)
        for source in PARTNER_DIRS:
            for path in _files(root, source):
                rel = f"{source}/{path.name}"
                got = _problems(source, path)
                assert set(got) == set(declared.get(rel, {})), rel
                if "wrong_header" in got:
                    assert got["wrong_header"] in (None, declared[rel]["wrong_header"])
        # No row-level truth points into a refused file.
        assert not [t for t in truth if t.get("file") in declared and t["defect"] not in REFUSED_FILE_DEFECTS]
        kinds = Counter(k for v in declared.values() for k in v)
        assert all(kinds[k] >= 1 for k in REFUSED_FILE_DEFECTS), kinds
        assert all(f.startswith("sbiz24/") for f, v in declared.items() if "wrong_encoding" in v)
        assert meta["counts"]["defects"] == summary["counts"]
    kinds = Counter(k for t in _truth(dirty[0]) for k in [t["defect"]] if k in REFUSED_FILE_DEFECTS)
    assert kinds["wrong_encoding"] >= 3 and kinds["truncated_file"] >= 2 and kinds["wrong_header"] >= 2


def test_wrong_encoding_files_fail_as_cp949_or_read_as_utf8(dirty) -> None:
    root, _ = dirty
    for t in _truth(root):
        if t["defect"] != "wrong_encoding":
            continue
        body = (root / t["file"]).read_bytes()
        try:
            text = body.decode("cp949")
        except UnicodeDecodeError:
            continue
        assert not text.startswith("접수번호")  # decodes, but to garbage
        assert "접수번호" in body.decode("utf-8")


def test_truncated_files_are_cut_mid_line(dirty) -> None:
    root, _ = dirty
    for t in _truth(root):
        if t["defect"] != "truncated_file":
            continue
        path = root / t["file"]
        cut, total = map(int, re.findall(r"\d+", t["detail"]))
        assert path.stat().st_size == cut < total
        if path.suffix == ".xlsx":
            with pytest.raises(zipfile.BadZipFile):
                zipfile.ZipFile(path)
        else:
            assert path.read_bytes()[-1:] not in (b"\n", b"\r")


def test_file_defect_rates_can_be_switched_off(tmp_path: Path) -> None:
    meta = simulate(tmp_path, applications=500, defect_rates=NO_DEFECTS)
    assert meta["counts"]["defects"] == {k: 0 for k in DEFECT_KINDS}
    for source in PARTNER_DIRS:
        for path in _files(tmp_path, source):
            assert _problems(source, path) == {}, path
            if source == "kakao":
                assert _kakao_rows(path)[0] == 1  # no title rows


# --- delivery -----------------------------------------------------------------------------------------


def test_deliver_files_by_day(default, tmp_path: Path) -> None:
    root, _ = default
    drop = tmp_path / "drop"
    day = FIRST_DAY + timedelta(days=6)  # a Sunday: the first week's workbooks are in
    written = deliver_files(root, drop, day)
    stamp = f"{day:%Y%m%d}"
    for source in PARTNER_DIRS:
        expected = sorted(p.name for p in _files(root, source) if _name_date(p.name) <= day)
        assert expected and sorted(p.name for p in _files(drop, source)) == expected, source
        assert any(_name_date(p.name) > day for p in _files(root, source))
        for name in expected:
            assert (drop / source / name).read_bytes() == (root / source / name).read_bytes()
    assert sorted(p.name for p in _files(drop, "reference")) == sorted(
        f"{n}_{stamp}.csv" for n in REFERENCE_LISTS
    )
    for name, (header, column) in REFERENCE_LISTS.items():
        lines = (root / "reference" / f"{name}.csv").read_text(encoding="utf-8").splitlines()
        index = header.index(column)
        known = [line for line in lines[1:] if line.split(",")[index] <= day.isoformat()]
        snapshot = (drop / "reference" / f"{name}_{stamp}.csv").read_text(encoding="utf-8").splitlines()
        assert snapshot == [lines[0], *known], name
        if name in ("credit_checks", "certifications", "onnuri_listings"):
            assert len(known) < len(lines) - 1, name  # rows dated later are held back
    assert {p.relative_to(drop).as_posix() for p in written} == {
        p.relative_to(drop).as_posix() for p in drop.rglob("*") if p.is_file()
    }
    assert not [p for p in drop.rglob("*") if p.name.endswith(".tmp")]

    # Idempotent: nothing new the same day, only the new day's files and snapshots the next.
    assert deliver_files(root, drop, day) == []
    following = deliver_files(root, drop, day + timedelta(days=1))
    assert following and all(
        p.parent.name == "reference" or _name_date(p.name) == day + timedelta(days=1) for p in following
    )
    assert deliver_files(root, drop, day + timedelta(days=1)) == []
    # Past the last day: every file is delivered, no snapshots beyond the scenario.
    deliver_files(root, drop, LAST_DAY)
    late = deliver_files(root, drop, LAST_DAY + timedelta(days=3))
    assert late == []
    for source in PARTNER_DIRS:
        assert len(_files(drop, source)) == len(_files(root, source))
