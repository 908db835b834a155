"""The scenario's partner channels and reference systems (shared/sources.md §2-§7).

``panro.simulate`` writes the portal and the committee scores; this module writes everything else and
plays the delivery of those files:

    sbiz24/o2o_YYYYMMDD.csv           소상공인24 O2O export (2-6): a day's new or changed rows, CP949, CRLF
    kakao/<site>_YYYYMMDD.xlsx        소담스퀘어 (3-2): a site's week of KakaoTalk applications, typed by hand
    edu/completions_YYYYMMDD.csv      지식배움터 / universities: course completions, every 3 days (UTF-8)
    nts/status.jsonl                  국세청 status history of every BRN, sorted by (effective_from, b_no)
    reference/<list>.csv              credit checks, fair-trade decisions, certifications, mail-order
                                      registry, 온누리 listings (UTF-8, header row, one row a fact)

Businesses and facts tie the sources together: the reference lists back (or refute) the portal's bonus
claims and eligibility answers, the O2O and KakaoTalk applicants are new businesses or portal applicants,
and every real BRN has a status history. File-borne defects are injected at the rates of
``defect_rates`` and logged in the truth with the file and line they sit on.

Each source draws from its own ``random.Random`` streams, seeded from the scenario seed, so the portal
and score files are unchanged by anything here and the output depends only on the arguments.
"""

from __future__ import annotations

import contextlib
import filecmp
import heapq
import io
import json
import os
import random
import re
import zipfile
from array import array
from bisect import bisect_left
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

from panro import simulate_data as data
from panro.brn import brn_check_digit, make_brn

DAY = 86_400

SBIZ24_HEADER: tuple[str, ...] = (
    "접수번호",
    "사업자등록번호",
    "상호명",
    "대표자명",
    "업종코드",
    "시도",
    "시군구",
    "신청플랫폼",
    "신청일시",
    "처리상태",
    "상시근로자수",
    "연매출액",
    "연락처",
)
KAKAO_HEADER: tuple[str, ...] = (
    "신청일시",
    "사업자등록번호",
    "상호",
    "대표자명",
    "연락처",
    "지역",
    "희망프로그램",
    "개인정보동의",
)
EDU_HEADER: tuple[str, ...] = (
    "brn",
    "learner_id",
    "course_type",
    "course_code",
    "course_name",
    "completed_on",
)
KAKAO_SHEET = "신청목록"
SBIZ24_ID_PREFIX = "O2O24-"
SITES: tuple[str, ...] = tuple(s[0] for s in data.KAKAO_SITES)

# Reference lists: name -> (header, the column holding the date from which a row is known).
REFERENCE_LISTS: dict[str, tuple[tuple[str, ...], str]] = {
    "credit_checks": (
        ("brn", "checked_on", "national_tax_arrears", "local_tax_arrears", "financial_default"),
        "checked_on",
    ),
    "fair_trade_violations": (("brn", "decided_on", "case_no", "violation_type"), "decided_on"),
    "certifications": (("brn", "cert_type", "cert_no", "valid_from", "valid_to"), "valid_from"),
    "mail_order_registry": (("brn", "registered_on", "status"), "registered_on"),
    "onnuri_listings": (("brn", "listed_from", "listed_to"), "listed_from"),
}

# --- volumes and shares (documented defaults) ---------------------------------------------------------
SBIZ24_SHARE = 0.25  # 소상공인24 applications per portal application
KAKAO_SHARE = 0.08  # 소담스퀘어 applications per portal application
EDU_OTHERS_SHARE = 0.05  # learners who are not portal applicants, per portal application
SBIZ24_FROM_PORTAL = 0.10  # O2O applicants who also applied on the portal
KAKAO_FROM_PORTAL = 0.15
SBIZ24_SUPPLEMENT_RATE = 0.12  # 접수 -> 보완요청
SBIZ24_RESUBMIT_RATE = 0.70  # 보완요청 -> 접수 again
SBIZ24_CANCEL_RATE = 0.03  # -> 취소
EDU_FILE_EVERY = 3  # an education file every 3 days (days 2, 5, 8, ... of the window)

NTS_UNKNOWN_RATE = 0.005  # real BRNs the tax office does not know: no line at all
NTS_CHANGE_RATE = 0.015  # BRNs suspended (02) or closed (03) at some date
NTS_CLOSED_SHARE = 0.6  # of the changes, closures; the rest suspensions
NTS_BEFORE_WINDOW = 0.4  # of the changes, dated before the window; the rest inside it
NTS_RESUME_RATE = 0.3  # suspensions that end (01 again) a few days later

CREDIT_FLAG_RATE = 0.03  # businesses with some Y in their credit check
FAIR_TRADE_RATE = 0.005  # businesses with an FTC decision in the 2 years before they apply
# The first fair-trade decisions sit exactly this many days before the application, cycling, so that
# the 1-year window is tested at its edge in every scenario; the rest spread over 1..730 days.
FAIR_TRADE_EDGE_DAYS: tuple[int, ...] = (365, 366, 364, 367)
# A backed claim: the fact exists and is dated before the application. Otherwise it is dated after it,
# has expired before it (certifications), or does not exist at all.
CERT_VALID, CERT_EXPIRED, CERT_FUTURE = 0.78, 0.08, 0.06  # rest: no certificate
EDU_BEFORE, EDU_AFTER = 0.82, 0.08  # rest: no completion
ONNURI_BEFORE, ONNURI_AFTER = 0.80, 0.08  # rest: never listed
MAIL_ORDER_MISSING, MAIL_ORDER_OTHER_DATE = 0.03, 0.04  # registered applicants the registry disagrees on
MAIL_ORDER_UNDECLARED = 0.04  # applicants saying "not registered" who are in the registry
SPONTANEOUS_CERT, SPONTANEOUS_ONNURI, SPONTANEOUS_EDU = 0.005, 0.01, 0.03  # facts nobody claims

CERT_CODES = frozenset(c for c, _, _ in data.CERT_TYPES)
_CERTS = {c: (prefix, years) for c, prefix, years in data.CERT_TYPES}
_CERT_LIST = tuple(c for c, _, _ in data.CERT_TYPES)
_CREDIT_PATTERNS = ("Y,N,N", "N,Y,N", "N,N,Y", "Y,Y,N", "Y,N,Y", "Y,Y,Y")
MAIL_ORDER_SUSPENDED, MAIL_ORDER_CLOSED = 0.04, 0.04  # registry status 휴업 / 폐업; the rest 정상영업
_SBIZ24_MISSING = ("상호명", "대표자명", "업종코드", "시도", "상시근로자수", "연매출액", "연락처")
_KAKAO_MISSING = ("사업자등록번호", "상호", "대표자명", "연락처")
_EDU_MISSING = ("learner_id", "course_type", "course_code", "completed_on")
# Columns a `wrong_header` defect may delete outright (from the header and every row).
_DROPPABLE = {"sbiz24": ("연락처", "시군구"), "kakao": ("연락처", "개인정보동의"), "edu": ("course_name",)}
_STAFF = ("김", "이", "박", "최", "정")
_FILE_NAMES = {
    "sbiz24": re.compile(r"o2o_(\d{8})\.csv"),
    "kakao": re.compile(r"(.+)_(\d{8})\.xlsx"),
    "edu": re.compile(r"completions_(\d{8})\.csv"),
}
_THIN = Side(style="thin", color="999999")


def _cum(weights) -> list[float]:
    return list(accumulate(weights))


def _dashed(brn: str) -> str:
    return f"{brn[:3]}-{brn[3:5]}-{brn[5:]}"


def _wrong_check_digit(brn: str, rng: random.Random) -> str:
    wrong = (brn_check_digit(brn[:9]) + rng.randint(1, 9)) % 10
    return f"{brn[:9]}{wrong}"


def pin_xlsx(body: bytes, day: date) -> bytes:
    """Rewrite an XLSX (a zip) with every timestamp pinned to ``day``, so equal content = equal bytes.

    openpyxl stamps docProps/core.xml with the time of the save and zip entries with the current time.
    """
    stamp = f"{day.isoformat()}T09:00:00Z".encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(body)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(
                    rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)", rb"\g<1>" + stamp + rb"\2", content
                )
            pinned = zipfile.ZipInfo(info.filename, date_time=(day.year, day.month, day.day, 9, 0, 0))
            pinned.compress_type = zipfile.ZIP_DEFLATED
            pinned.external_attr = 0o600 << 16
            dst.writestr(pinned, content)
    return out.getvalue()


def file_date(source: str, name: str) -> date | None:
    """The date in a partner file's name (``o2o_YYYYMMDD.csv``, ``<site>_YYYYMMDD.xlsx``, ...)."""
    m = _FILE_NAMES[source].fullmatch(name)
    if not m:
        return None
    digits = m.groups()[-1]
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


class Sources:
    """Writes the partner and reference sources of one scenario, next to a portal ``_Generator``.

    The portal generator calls :meth:`portal_application` for every application (its businesses are
    the core of the reference lists); :meth:`finish` then writes the partner files, the status history
    and the whole-file defects. Only compact per-BRN data is held between days.
    """

    def __init__(
        self,
        gen: Any,
        out: Path,
        *,
        seed: int,
        rates: dict[str, float],
        sbiz24_applications: int,
        kakao_applications: int,
        edu_other_learners: int,
    ) -> None:
        self.gen = gen
        self.out = out
        self.seed = seed
        self.rates = rates
        self.n_sbiz24 = sbiz24_applications
        self.n_kakao = kakao_applications
        self.n_edu_others = edu_other_learners
        self.first_day: date = gen.first_day
        self.days: int = gen.days
        self.last_day = self.first_day + timedelta(days=self.days - 1)
        self.first_ord = self.first_day.toordinal()
        self.last_ord = self.first_ord + self.days - 1
        self.truth: list[dict] = []
        self.files: list[tuple[str, str]] = []  # (source, path relative to out) of each partner file
        self.counts: dict[str, int] = {
            "sbiz24_applications": 0,
            "sbiz24_rows": 0,
            "sbiz24_files": 0,
            "kakao_applications": 0,
            "kakao_rows": 0,
            "kakao_files": 0,
            "edu_completions": 0,
            "edu_files": 0,
            "edu_other_learners": 0,
            "nts_lines": 0,
            "nts_brns": 0,
            "nts_unknown_brns": 0,
        }
        self.reference_rows = {name: 0 for name in REFERENCE_LISTS}
        self._iso: dict[int, str] = {}
        self.rrng = random.Random(f"{seed}:reference")
        self._r = self.rrng.random
        self.nrng = random.Random(f"{seed}:nts")
        self.erng = random.Random(f"{seed}:edu")
        # Status lines by effective day (ordinal): arrays of (BRN << 4 | status code), sorted when written.
        self.nts: dict[int, array] = {}
        # Per BRN of the portal's pool of returning businesses: [cert types, onnuri decided, edu types].
        self.state: dict[str, list] = {}
        self.fair_trade_seen = 0
        days = [d for d in range(self.days) if d % EDU_FILE_EVERY == EDU_FILE_EVERY - 1] or [self.days - 1]
        self.edu_file_ords = [self.first_ord + d for d in days]
        self.edu_rows: list[list[tuple]] = [[] for _ in days]

        (out / "reference").mkdir(parents=True, exist_ok=True)
        self._ref = {}
        for name, (header, _) in REFERENCE_LISTS.items():
            f = (out / "reference" / f"{name}.csv").open("w", encoding="utf-8", newline="\n")
            f.write(",".join(header) + "\n")
            self._ref[name] = f

    def close(self) -> None:
        for f in self._ref.values():
            f.close()

    def iso(self, ordinal: int) -> str:
        s = self._iso.get(ordinal)
        if s is None:
            s = date.fromordinal(ordinal).isoformat()
            self._iso[ordinal] = s
        return s

    def _row(self, name: str, line: str) -> None:
        self._ref[name].write(line)
        self.reference_rows[name] += 1

    def _log(self, source: str, file: str, line: int | None, kind: str, field: str | None, **extra) -> None:
        self.truth.append(
            {"source": source, "file": file, "line": line, "defect": kind, "field": field, **extra}
        )

    # --- the portal's businesses --------------------------------------------------------------------

    def portal_application(
        self, business: dict, online: dict, claims: list[str], sub_day: date, new: bool, evicted: str | None
    ) -> None:
        """Called by the portal generator for every application (before its defects are injected)."""
        brn = business["brn"]
        if evicted is not None:
            self.state.pop(evicted, None)
        sub = sub_day.toordinal()
        if new:
            state = self.new_business(business, online, sub)
            self.state[brn] = state
        else:
            state = self.state[brn]
        certs, edu = state[0], state[2]
        for code in claims:
            if code in CERT_CODES:
                if code not in certs:
                    certs.add(code)
                    self._certification(brn, code, sub, claimed=True)
            elif code == "elearning_completed" or code == "digital_univ_grad":
                if code not in edu:
                    edu.add(code)
                    kind = "elearning" if code == "elearning_completed" else "digital_univ"
                    self._completion_for(brn, kind, sub, claimed=True)
            elif code == "onnuri_listed" and not state[1]:
                state[1] = True
                self._onnuri(brn, sub, claimed=True)

    def new_business(self, business: dict, online: dict, sub: int) -> list:
        """The facts of a business seen for the first time, applying on day ``sub`` (an ordinal)."""
        r = self._r
        brn = business["brn"]
        opened = date.fromisoformat(business["opened_on"]).toordinal()
        self.nts_add(brn, opened)
        flags = _CREDIT_PATTERNS[int(r() * len(_CREDIT_PATTERNS))] if r() < CREDIT_FLAG_RATE else "N,N,N"
        self._row("credit_checks", f"{brn},{self.iso(sub)},{flags}\n")
        if r() < FAIR_TRADE_RATE:
            self._fair_trade(brn, sub)
        self._mail_order(brn, online, opened, sub)
        state: list = [set(), False, set()]
        if r() < SPONTANEOUS_CERT:
            code = _CERT_LIST[int(r() * len(_CERT_LIST))]
            state[0].add(code)
            self._certification(brn, code, sub, claimed=False)
        if r() < SPONTANEOUS_ONNURI:
            state[1] = True
            self._onnuri(brn, sub, claimed=False)
        if r() < SPONTANEOUS_EDU:
            kind = "digital_univ" if r() < 0.15 else "elearning"
            state[2].add("elearning_completed" if kind == "elearning" else "digital_univ_grad")
            self._completion_for(brn, kind, sub, claimed=False)
        return state

    def _fair_trade(self, brn: str, sub: int) -> None:
        r = self._r
        i = self.fair_trade_seen
        self.fair_trade_seen += 1
        slot = i % 10
        days = FAIR_TRADE_EDGE_DAYS[slot] if slot < len(FAIR_TRADE_EDGE_DAYS) else 1 + int(r() * 730)
        decided = self.iso(sub - days)
        office = data.FAIR_TRADE_OFFICES[int(r() * len(data.FAIR_TRADE_OFFICES))]
        case_no = f"{decided[:4]}{office}{1 + int(r() * 4999):04d}"
        kind = data.FAIR_TRADE_VIOLATIONS[int(r() * len(data.FAIR_TRADE_VIOLATIONS))]
        self._row("fair_trade_violations", f"{brn},{decided},{case_no},{kind}\n")

    def _mail_order(self, brn: str, online: dict, opened: int, sub: int) -> None:
        r = self._r
        if online["mail_order_registered"]:
            registered = date.fromisoformat(online["mail_order_registered_on"]).toordinal()
            u = r()
            if u < MAIL_ORDER_MISSING:
                return
            if u < MAIL_ORDER_MISSING + MAIL_ORDER_OTHER_DATE:
                registered = max(opened, registered - 30 - int(r() * 400))
        elif r() < MAIL_ORDER_UNDECLARED:
            registered = opened + int(r() * (sub + 20 - opened))
            if registered > self.last_ord:
                return
        else:
            return
        u = r()
        status = (
            "휴업"
            if u < MAIL_ORDER_SUSPENDED
            else "폐업"
            if u < MAIL_ORDER_SUSPENDED + MAIL_ORDER_CLOSED
            else "정상영업"
        )
        self._row("mail_order_registry", f"{brn},{self.iso(registered)},{status}\n")

    def _onnuri(self, brn: str, sub: int, *, claimed: bool) -> None:
        r = self._r
        u = r() if claimed else 0.0
        if u < ONNURI_BEFORE:
            start = sub - 30 - int(r() * 870)
            end = "" if r() < 0.6 else self.iso(min(self.first_ord - 1, start + 30 + int(r() * 335)))
        elif u < ONNURI_BEFORE + ONNURI_AFTER:
            start, end = sub + 1 + int(r() * 20), ""
            if start > self.last_ord:
                return
        else:
            return
        self._row("onnuri_listings", f"{brn},{self.iso(start)},{end}\n")

    def _certification(self, brn: str, code: str, sub: int, *, claimed: bool) -> None:
        r = self._r
        prefix, years = _CERTS[code]
        span = years * 365
        u = r() if claimed else 0.0
        if u < CERT_VALID:
            start = sub - 1 - int(r() * (span - 2))
        elif u < CERT_VALID + CERT_EXPIRED:
            start = sub - int(r() * 400) - span  # valid_to = start + span - 1 < sub
        elif u < CERT_VALID + CERT_EXPIRED + CERT_FUTURE:
            start = sub + 1 + int(r() * 25)
            if start > self.last_ord:
                return
        else:
            return
        since = self.iso(start)
        if code in ("patent", "utility_model"):
            cert_no = f"{prefix}-{2_000_000 + int(r() * 700_000):07d}"
        else:
            cert_no = f"{prefix}-{since[:4]}-{1 + int(r() * 99_999):05d}"
        self._row("certifications", f"{_dashed(brn)},{code},{cert_no},{since},{self.iso(start + span - 1)}\n")

    # --- education --------------------------------------------------------------------------------

    def _completion_for(self, brn: str, kind: str, sub: int, *, claimed: bool) -> None:
        r = self._r
        u = r() if claimed else 0.0
        if u < EDU_BEFORE:
            done = sub - 1 - int(r() * 600)
        elif u < EDU_BEFORE + EDU_AFTER:
            done = sub + int(r() * 30)  # on or after the application: it does not back the claim
        else:
            return
        self._completion(brn, kind, done)

    def _completion(self, brn: str, kind: str, done: int) -> None:
        """Queue a completion for the first education file dated on or after it (none past the window)."""
        idx = bisect_left(self.edu_file_ords, done)
        if idx == len(self.edu_file_ords):
            return
        e = self.erng.random
        learner = f"L{int(e() * 100_000_000):08d}"
        courses = data.ELEARNING_COURSES if kind == "elearning" else data.DIGITAL_UNIV_COURSES
        code, name = courses[int(e() * len(courses))]
        self.edu_rows[idx].append((done, brn, learner, kind, code, name))
        if kind == "elearning" and e() < 0.15:
            # The same learner finished a second, earlier course.
            code2, name2 = data.ELEARNING_COURSES[int(e() * len(data.ELEARNING_COURSES))]
            if code2 != code:
                earlier = done - 1 - int(e() * 90)
                self.edu_rows[bisect_left(self.edu_file_ords, earlier)].append(
                    (earlier, brn, learner, kind, code2, name2)
                )

    # --- 국세청 --------------------------------------------------------------------------------------

    def nts_add(self, brn: str, opened: int) -> None:
        """Record the status history of a real BRN: 01 from its opening, for a few a 02 or 03 later."""
        n = self.nrng.random
        u = n()
        if u < NTS_UNKNOWN_RATE:
            self.counts["nts_unknown_brns"] += 1
            return
        self.counts["nts_brns"] += 1
        b = int(brn)
        self._nts_push(opened, b, 1)
        if u < NTS_UNKNOWN_RATE + NTS_CHANGE_RATE:
            code = 3 if n() < NTS_CLOSED_SHARE else 2
            if n() < NTS_BEFORE_WINDOW and opened + 30 < self.first_ord:
                when = opened + 30 + int(n() * (self.first_ord - opened - 30))
            else:
                when = self.first_ord + int(n() * self.days)
            self._nts_push(when, b, code)
            if code == 2 and n() < NTS_RESUME_RATE:
                resumed = when + 3 + int(n() * 18)
                if resumed <= self.last_ord:
                    self._nts_push(resumed, b, 1)

    def _nts_push(self, ordinal: int, b: int, code: int) -> None:
        bucket = self.nts.get(ordinal)
        if bucket is None:
            bucket = self.nts[ordinal] = array("Q")
        bucket.append((b << 4) | code)

    def write_nts(self) -> None:
        """Write the status history sorted by (effective_from, b_no), one day's bucket at a time."""
        (self.out / "nts").mkdir(parents=True, exist_ok=True)
        lines = 0
        with (self.out / "nts" / "status.jsonl").open("w", encoding="utf-8", newline="\n") as f:
            for ordinal in sorted(self.nts):
                day = self.iso(ordinal)
                closed = day.replace("-", "")
                buf = []
                for k in sorted(self.nts.pop(ordinal)):
                    end = closed if k & 15 == 3 else ""
                    buf.append(
                        f'{{"b_no":"{k >> 4:010d}","b_stt_cd":"0{k & 15}","effective_from":"{day}","end_dt":"{end}"}}\n'
                    )
                f.writelines(buf)
                lines += len(buf)
        self.counts["nts_lines"] = lines

    # --- the partner files --------------------------------------------------------------------------

    def finish(self) -> None:
        """Write the partner files and the status history, then break whole files on purpose."""
        self.write_sbiz24()
        self.write_kakao()
        self.write_edu()
        self.close()
        self.write_nts()
        self.apply_file_defects()

    def _applicant(self, sub_day: date, program: str, from_pool: float) -> tuple[dict, dict]:
        """A business applying through a partner channel: a portal applicant or a new business."""
        g = self.gen
        if g._pool and g._random() < from_pool:
            business, online, _, _ = g._pool[g._below(len(g._pool))]
            return business, online
        business, online, _, _ = g._new_business(sub_day, program)
        self.new_business(business, online, sub_day.toordinal())
        return business, online

    def write_sbiz24(self) -> None:
        """One CP949 CSV a day with the O2O applications that were new or changed that day."""
        n = self.n_sbiz24
        folder = self.out / "sbiz24"
        folder.mkdir(parents=True, exist_ok=True)
        if n == 0:
            return
        g = self.gen
        rng = random.Random(f"{self.seed}:sbiz24")
        d = random.Random(f"{self.seed}:sbiz24:defects")
        drand = d.random
        rates = self.rates
        platforms = [p for p, _ in data.O2O_PLATFORMS]
        platform_cum = _cum(w for _, w in data.O2O_PLATFORMS)
        header = ",".join(SBIZ24_HEADER) + "\r\n"
        heap: list[tuple] = []
        current: list[int | None] = [None]  # the day index being collected
        entries: list[tuple[str, tuple, str]] = []
        seq = 0

        def flush() -> None:
            day_index = current[0]
            if day_index is None:
                return
            name = f"o2o_{(self.first_day + timedelta(days=day_index)):%Y%m%d}.csv"
            rel = f"sbiz24/{name}"
            lines = [header]
            for line, defects, rid in entries:
                lines.append(line)
                for kind, field in defects:
                    self._log("sbiz24", rel, len(lines), kind, field, record_id=rid)
                if drand() < rates["duplicate_row"]:
                    lines.append(line)
                    self._log("sbiz24", rel, len(lines), "duplicate_row", None, record_id=rid)
            (folder / name).write_bytes("".join(lines).encode("cp949"))
            self.files.append(("sbiz24", rel))
            self.counts["sbiz24_rows"] += len(lines) - 1
            self.counts["sbiz24_files"] += 1
            entries.clear()

        def emit(item: tuple) -> None:
            t, _, _, prefix, status, suffix, defects, rid = item
            if current[0] != t // DAY:
                flush()
                current[0] = t // DAY
            entries.append((f"{prefix}{status}{suffix}", defects, rid))

        with g.using(rng, data.O2O_KSIC_CODES):
            times = g._submission_times(n)
            for i, t in enumerate(times):
                no = i + 1
                while heap and (heap[0][0], heap[0][1]) < (t, no):
                    emit(heapq.heappop(heap))
                day_index = t // DAY
                sub_day = self.first_day + timedelta(days=day_index)
                business, _ = self._applicant(sub_day, "2-6", SBIZ24_FROM_PORTAL)
                platform = g._wpick(platforms, platform_cum)
                events = [(t, "접수")]
                if g._random() < SBIZ24_SUPPLEMENT_RATE:
                    req = g._office_time(day_index + g._int(1, 3))
                    events.append((req, "보완요청"))
                    if g._random() < SBIZ24_RESUBMIT_RATE:
                        events.append((g._applicant_time(req // DAY + g._int(1, 4)), "접수"))
                if g._random() < SBIZ24_CANCEL_RATE:
                    cancel = g._applicant_time(day_index + g._int(1, 10))
                    events = [e for e in events if e[0] < cancel] + [(cancel, "취소")]

                rid = f"{SBIZ24_ID_PREFIX}{no:07d}"
                ts = g.ts(t)
                values = {
                    "사업자등록번호": business["brn"],
                    "상호명": business["name"],
                    "대표자명": business["representative_name"],
                    "업종코드": business["ksic_code"],
                    "시도": business["sido"],
                    "시군구": business["sigungu"] or "",
                    "신청일시": f"{ts[:10]} {ts[11:19]}",
                    "상시근로자수": str(business["employees"]),
                    "연매출액": str(business["annual_revenue_krw"]),
                    "연락처": business["phone"],
                }
                defects = self._sbiz24_defects(d, values, t)
                v = values
                prefix = (
                    f"{rid},{_dashed(v['사업자등록번호'])},{v['상호명']},{v['대표자명']},{v['업종코드']},"
                    f"{v['시도']},{v['시군구']},{platform},{v['신청일시']},"
                )
                suffix = f",{v['상시근로자수']},{v['연매출액']},{v['연락처']}\r\n"
                for et, status in events:
                    if et > g.end_t:
                        break
                    seq += 1
                    heapq.heappush(heap, (et, no, seq, prefix, status, suffix, defects, rid))
            while heap:
                emit(heapq.heappop(heap))
            flush()
        self.counts["sbiz24_applications"] = n

    def _sbiz24_defects(self, d: random.Random, values: dict[str, str], t: int) -> tuple:
        """Break an O2O application in the export (all its rows carry it); return (defect, column) pairs."""
        rates = self.rates
        draws = [d.random() for _ in range(4)]
        defects: list[tuple[str, str]] = []
        if draws[0] < rates["bad_brn_check_digit"]:
            values["사업자등록번호"] = _wrong_check_digit(values["사업자등록번호"], d)
            defects.append(("bad_brn_check_digit", "사업자등록번호"))
        excluded = draws[1] < rates["excluded_industry"]
        if excluded:
            values["업종코드"] = d.choice(data.EXCLUDED_KSIC)
            defects.append(("excluded_industry", "업종코드"))
        if draws[2] < rates["missing_field"]:
            field = d.choice(_SBIZ24_MISSING[:2] + _SBIZ24_MISSING[3:] if excluded else _SBIZ24_MISSING)
            values[field] = ""
            defects.append(("missing_field", field))
        if draws[3] < rates["malformed_date"]:
            values["신청일시"] = self._malformed_datetime(d, t)
            defects.append(("malformed_date", "신청일시"))
        return tuple(defects)

    def _malformed_datetime(self, d: random.Random, t: int) -> str:
        day = self.first_day + timedelta(days=t // DAY)
        r = t % DAY
        h, m, s = r // 3600, r % 3600 // 60, r % 60
        kind = d.randrange(4)
        if kind == 0:
            return f"{day.year:04d}/{day.month:02d}/{day.day:02d} {h:02d}:{m:02d}"
        if kind == 1:
            return f"{day.year:04d}-{d.choice(data.IMPOSSIBLE_DATES)} {h:02d}:{m:02d}:{s:02d}"
        if kind == 2:
            return f"{day:%Y%m%d}{h:02d}{m:02d}{s:02d}"
        half = "오전" if h < 12 else "오후"
        return f"{day.year}. {day.month}. {day.day}. {half} {(h - 1) % 12 + 1}:{m:02d}"

    def write_kakao(self) -> None:
        """One workbook a site a week (Monday to Sunday, cut at the window's edges), typed by staff."""
        n = self.n_kakao
        folder = self.out / "kakao"
        folder.mkdir(parents=True, exist_ok=True)
        if n == 0:
            return
        g = self.gen
        rng = random.Random(f"{self.seed}:kakao")
        d = random.Random(f"{self.seed}:kakao:defects")
        by_sido: dict[str, list[str]] = {}
        for code, _, _, sidos in data.KAKAO_SITES:
            for sido in sidos:
                by_sido.setdefault(sido, []).append(code)
        programs = [p for p, _ in data.KAKAO_PROGRAMS]
        program_cum = _cum(w for _, w in data.KAKAO_PROGRAMS)
        first_weekday = self.first_day.weekday()
        buckets: dict[str, list[tuple]] = {code: [] for code in SITES}
        week: list[int | None] = [None]

        def flush() -> None:
            if week[0] is None:
                return
            end_index = min((week[0] + 1) * 7 - 1 - first_weekday, self.days - 1)
            day = self.first_day + timedelta(days=end_index)
            for code in SITES:
                rows = buckets[code]
                if rows:
                    self._kakao_workbook(folder, code, day, rows, rng, d)
                    rows.clear()

        with g.using(rng):
            times = g._submission_times(n)
            for t in times:
                day_index = t // DAY
                w = (first_weekday + day_index) // 7
                if w != week[0]:
                    flush()
                    week[0] = w
                sub_day = self.first_day + timedelta(days=day_index)
                business, _ = self._applicant(sub_day, "3-2", KAKAO_FROM_PORTAL)
                sites = by_sido[business["sido"]]
                site = sites[g._below(len(sites))] if len(sites) > 1 else sites[0]
                short = data.SIDO_SHORT[business["sido"]]
                sigungu = business["sigungu"]
                region = f"{short} {sigungu.split()[0]}" if sigungu and g._random() < 0.8 else short
                phone = business["phone"] if g._random() < 0.75 else business["phone"].replace("-", "")
                row = (
                    t,
                    business["brn"],
                    business["name"],
                    business["representative_name"],
                    phone,
                    region,
                    g._wpick(programs, program_cum),
                    g._random() < 0.95,
                )
                buckets[site].append(row)
            flush()
        self.counts["kakao_applications"] = n

    def _kakao_workbook(
        self, folder: Path, site: str, day: date, rows: list[tuple], rng: random.Random, d: random.Random
    ) -> None:
        rand, drand = rng.random, d.random
        rates = self.rates
        name = f"{site}_{day:%Y%m%d}.xlsx"
        rel = f"kakao/{name}"
        short = next(s for code, s, _, _ in data.KAKAO_SITES if code == site)
        wb = Workbook()
        ws = wb.active
        ws.title = KAKAO_SHEET
        width = len(KAKAO_HEADER)
        top = 1
        if drand() < rates["merged_title_rows"]:
            titles = 1 + (drand() < 0.5)
            ws.cell(1, 1, f"{day.year}년 {day.month}월 소담스퀘어 {short} 신청 현황").font = Font(
                bold=True, size=14
            )
            ws.cell(1, 1).alignment = Alignment(horizontal="center")
            ws.merge_cells(start_row=1, start_column=1, end_row=1, end_column=width)
            if titles == 2 and drand() < 0.6:
                staff = _STAFF[int(drand() * len(_STAFF))]
                ws.cell(2, 1, f"담당: {staff}OO 매니저 / 작성일: {day:%Y.%m.%d}")
                ws.merge_cells(start_row=2, start_column=1, end_row=2, end_column=width)
            top = titles + 1
            self._log(
                "kakao", rel, top, "merged_title_rows", None, detail=f"{titles} title row(s) above the header"
            )
        fill = PatternFill("solid", fgColor="D9E1F2")
        for col, title in enumerate(KAKAO_HEADER, start=1):
            cell = ws.cell(top, col, title)
            cell.font = Font(bold=True)
            cell.fill = fill
        yes, no = ("Y", "N") if rand() < 0.5 else ("동의", "미동의")
        line = top
        for t, brn, company, rep, phone, region, program, consent in rows:
            draws = [drand() for _ in range(4)]
            defects: list[tuple[str, str]] = []
            if draws[0] < rates["bad_brn_check_digit"]:
                brn = _wrong_check_digit(brn, d)
                defects.append(("bad_brn_check_digit", "사업자등록번호"))
            style = rand()
            if style < 0.55:
                typed_brn = _dashed(brn)
            elif style < 0.85:
                typed_brn = brn
            elif style < 0.95:
                typed_brn = f"{brn[:3]} {brn[3:5]} {brn[5:]}"
            else:
                typed_brn = f"{brn[:3]}.{brn[3:5]}.{brn[5:]}"
            day_t = self.first_day + timedelta(days=t // DAY)
            h, m = t % DAY // 3600, t % 3600 // 60
            style = rand()
            when: Any
            if style < 0.5:
                when = datetime(day_t.year, day_t.month, day_t.day, h, m)
            elif style < 0.85:
                when = f"{day_t:%Y.%m.%d} {h:02d}:{m:02d}"
            else:
                when = day_t.isoformat()
            if draws[1] < rates["malformed_date"]:
                kind = d.randrange(3)
                if kind == 0:
                    when = f"{day_t.year}.{d.choice(data.IMPOSSIBLE_DATES).replace('-', '.')} {h:02d}:{m:02d}"
                elif kind == 1:
                    when = f"{day_t.month}월 {day_t.day}일 {h}시"
                else:
                    when = f"{day_t:%Y.%m.%d} {h + 24:02d}:{m:02d}"
                defects.append(("malformed_date", "신청일시"))
            if consent:
                agreed = yes if rand() < 0.9 else ("동의" if yes == "Y" else "Y")
            else:
                agreed = no if rand() < 0.9 else ("미동의" if no == "N" else "N")
            values: list[Any] = [when, typed_brn, company, rep, phone, region, program, agreed]
            for i in range(1, width):
                if rand() < 0.06:  # a stray space typed around the value
                    values[i] = self._padded(values[i], rand)
            if draws[2] < rates["missing_field"]:
                # A blanked BRN would hide a wrong check digit: blank another cell then.
                choices = (
                    _KAKAO_MISSING[1:]
                    if defects and defects[0][0] == "bad_brn_check_digit"
                    else _KAKAO_MISSING
                )
                field = choices[int(drand() * len(choices))]
                values[KAKAO_HEADER.index(field)] = None
                defects.append(("missing_field", field))
            copies = 2 if draws[3] < rates["duplicate_row"] else 1
            for copy in range(copies):
                line += 1
                for col, value in enumerate(values, start=1):
                    cell = ws.cell(line, col, value)
                    if col == 1 and isinstance(value, datetime):
                        cell.number_format = "yyyy-mm-dd hh:mm"
                if copy == 0:
                    for kind, field in defects:
                        self._log("kakao", rel, line, kind, field)
                else:
                    self._log("kakao", rel, line, "duplicate_row", None)
            self.counts["kakao_rows"] += copies
        if rand() < 0.8:  # the blank, formatted row staff leave below the list
            line += 1
            for col in range(1, width + 1):
                ws.cell(line, col).border = Border(bottom=_THIN)
        for col, w in zip("ABCDEFGH", (18, 16, 20, 10, 15, 14, 22, 12), strict=True):
            ws.column_dimensions[col].width = w
        wb.properties.creator = f"소담스퀘어 {short}"
        self._save_workbook(wb, folder / name, day)
        self.files.append(("kakao", rel))
        self.counts["kakao_files"] += 1

    @staticmethod
    def _padded(value: Any, rand) -> Any:
        if not isinstance(value, str):
            return value
        u = rand()
        return f" {value}" if u < 0.4 else f"{value} " if u < 0.8 else f"  {value} "

    @staticmethod
    def _save_workbook(wb: Workbook, path: Path, day: date) -> None:
        stamp = datetime(day.year, day.month, day.day, 9, 0, 0)
        wb.properties.created = stamp
        wb.properties.modified = stamp
        buffer = io.BytesIO()
        wb.save(buffer)
        path.write_bytes(pin_xlsx(buffer.getvalue(), day))

    def write_edu(self) -> None:
        """The education files: the first holds the backlog, each later one the completions since."""
        folder = self.out / "edu"
        folder.mkdir(parents=True, exist_ok=True)
        g = self.gen
        rng = random.Random(f"{self.seed}:edu-others")
        rand = rng.random
        earliest = date(2008, 1, 1).toordinal()
        for _ in range(self.n_edu_others):
            individual = rand() < 0.85
            brn = make_brn(rng, individual)
            while int(brn) in g._brns:
                brn = make_brn(rng, individual)
            g._brns.add(int(brn))
            opened = earliest + int(rand() * (self.first_ord - 90 - earliest))
            self.nts_add(brn, opened)
            kind = "digital_univ" if rand() < 0.1 else "elearning"
            if rand() < 0.7:  # a course finished in the window, reported by the last file
                done = self.first_ord + int(rand() * (self.edu_file_ords[-1] - self.first_ord + 1))
            else:
                done = self.first_ord - 1 - int(rand() * 400)
            self._completion(brn, kind, done)
        self.counts["edu_other_learners"] = self.n_edu_others

        d = random.Random(f"{self.seed}:edu:defects")
        drand = d.random
        rates = self.rates
        header = ",".join(EDU_HEADER) + "\n"
        for idx, ordinal in enumerate(self.edu_file_ords):
            rows = sorted(self.edu_rows[idx])
            self.edu_rows[idx] = []
            name = f"completions_{date.fromordinal(ordinal):%Y%m%d}.csv"
            rel = f"edu/{name}"
            lines = [header]
            for done, brn, learner, kind, code, course in rows:
                draws = [drand() for _ in range(4)]
                defects: list[tuple[str, str]] = []
                if draws[0] < rates["bad_brn_check_digit"]:
                    brn = _wrong_check_digit(brn, d)
                    defects.append(("bad_brn_check_digit", "brn"))
                completed = self.iso(done)
                if draws[1] < rates["malformed_date"]:
                    day = date.fromordinal(done)
                    kind_of = d.randrange(3)
                    if kind_of == 0:
                        completed = f"{day:%Y.%m.%d}"
                    elif kind_of == 1:
                        completed = f"{day.year}-{d.choice(data.IMPOSSIBLE_DATES)}"
                    else:
                        completed = f"{day.month}/{day.day}/{day.year}"
                    defects.append(("malformed_date", "completed_on"))
                values = {
                    "learner_id": learner,
                    "course_type": kind,
                    "course_code": code,
                    "completed_on": completed,
                }
                if draws[2] < rates["missing_field"]:
                    malformed = bool(defects) and defects[-1][0] == "malformed_date"
                    choices = (
                        _EDU_MISSING[:-1] if malformed else _EDU_MISSING
                    )  # keep a malformed date visible
                    field = choices[int(drand() * len(choices))]
                    values[field] = ""
                    defects.append(("missing_field", field))
                typed = _dashed(brn) if drand() < 0.1 else brn
                v = values
                line = f"{typed},{v['learner_id']},{v['course_type']},{v['course_code']},{course},{v['completed_on']}\n"
                lines.append(line)
                for defect, field in defects:
                    self._log("edu", rel, len(lines), defect, field)
                if draws[3] < rates["duplicate_row"]:
                    lines.append(line)
                    self._log("edu", rel, len(lines), "duplicate_row", None)
            (folder / name).write_text("".join(lines), encoding="utf-8", newline="")
            self.files.append(("edu", rel))
            self.counts["edu_completions"] += len(lines) - 1
            self.counts["edu_files"] += 1

    # --- whole-file defects ---------------------------------------------------------------------------

    def apply_file_defects(self) -> None:
        """Re-encode, cut or mislabel a few whole files; their row-level truth is dropped (refused)."""
        d = random.Random(f"{self.seed}:files")
        taken: set[str] = set()

        def choose(kind: str, sources: tuple[str, ...]) -> list[tuple[str, str]]:
            pool = [f for f in self.files if f[0] in sources and f[1] not in taken]
            rate = self.rates[kind]
            if rate <= 0 or not pool:
                return []
            # At least one file as soon as the rate is above zero, so every path is exercised.
            k = min(len(pool), max(1, round(rate * len(pool))))
            picked = [pool[i] for i in sorted(d.sample(range(len(pool)), k))]
            taken.update(rel for _, rel in picked)
            return picked

        for source, rel in choose("wrong_encoding", ("sbiz24",)):
            path = self.out / rel
            path.write_bytes(path.read_bytes().decode("cp949").encode("utf-8"))
            self._log(source, rel, None, "wrong_encoding", None, detail="UTF-8 instead of CP949")
        for source, rel in choose("truncated_file", ("sbiz24", "kakao", "edu")):
            path = self.out / rel
            body = path.read_bytes()
            if source == "kakao":
                cut = len(body) // 4 + int(d.random() * (len(body) // 2))
            else:
                cut = len(body) // 3 + int(d.random() * max(1, len(body) - 1 - len(body) // 3))
                while cut > 1 and body[cut - 1 : cut] in (b"\r", b"\n"):
                    cut -= 1  # end mid-line, never at a line break
            path.write_bytes(body[:cut])
            self._log(source, rel, None, "truncated_file", None, detail=f"cut at byte {cut} of {len(body)}")
        for source, rel in choose("wrong_header", ("sbiz24", "kakao", "edu")):
            field, detail = self._break_header(source, rel, d)
            self._log(source, rel, None, "wrong_header", field, detail=detail)

        refused = {
            t["file"]
            for t in self.truth
            if t["defect"] in ("wrong_encoding", "truncated_file", "wrong_header")
        }
        self.truth = [
            t
            for t in self.truth
            if t["file"] not in refused or t["defect"] in ("wrong_encoding", "truncated_file", "wrong_header")
        ]

    def _break_header(self, source: str, rel: str, d: random.Random) -> tuple[str, str]:
        path = self.out / rel
        header = {"sbiz24": SBIZ24_HEADER, "kakao": KAKAO_HEADER, "edu": EDU_HEADER}[source]
        if d.random() < 0.7:
            old, new = d.choice(data.HEADER_RENAMES[source])
            col, detail = header.index(old), f"{old} renamed to {new}"
        else:
            old, new = d.choice(_DROPPABLE[source]), None
            col, detail = header.index(old), f"{old} column missing"
        if source == "kakao":
            day = file_date("kakao", Path(rel).name)
            wb = load_workbook(path)
            ws = wb[KAKAO_SHEET]
            top = next(r for r in range(1, 5) if str(ws.cell(r, 1).value or "").strip() == KAKAO_HEADER[0])
            if new is not None:
                ws.cell(top, col + 1).value = new
            else:
                titles = [str(m) for m in ws.merged_cells.ranges]
                for m in titles:
                    ws.unmerge_cells(m)
                ws.delete_cols(col + 1)
                for m in titles:
                    row = int(re.sub(r"\D", "", m.split(":")[0]))
                    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=len(header) - 1)
            self._save_workbook(wb, path, day)
            return old, detail
        encoding = "cp949" if source == "sbiz24" else "utf-8"
        eol = "\r\n" if source == "sbiz24" else "\n"
        lines = path.read_bytes().decode(encoding).split(eol)
        if new is not None:
            cells = lines[0].split(",")
            cells[col] = new
            lines[0] = ",".join(cells)
        else:
            for i, line in enumerate(lines):
                if line:
                    cells = line.split(",")
                    del cells[col]
                    lines[i] = ",".join(cells)
        path.write_bytes(eol.join(lines).encode(encoding))
        return old, detail


# --- delivery -----------------------------------------------------------------------------------------


def _copy_if_changed(source: Path, dest: Path) -> bool:
    content = source.read_bytes()
    if dest.exists() and dest.read_bytes() == content:
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, dest)
    return True


def _scenario_last_day(scenario_dir: Path) -> date | None:
    path = scenario_dir / "scenario.json"
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return date.fromisoformat(json.loads(path.read_text(encoding="utf-8"))["last_day"])
    return None


def _rows_known_by(path: Path, column: int, day_iso: str) -> Iterator[str]:
    with path.open(encoding="utf-8", newline="") as f:
        yield f.readline()
        for line in f:
            cells = line.split(",", column + 1)
            if len(cells) > column and cells[column].strip()[:10] <= day_iso:
                yield line


def deliver_sources(scenario_dir: Path, drop_dir: Path, day: date) -> list[Path]:
    """Deliver the partner files dated on or before ``day`` and the reference snapshots of ``day``.

    Partner files keep their names (``drop/sbiz24/o2o_YYYYMMDD.csv`` ...). Each reference list is
    delivered as ``drop/reference/<list>_YYYYMMDD.csv`` holding the rows known by ``day`` (their date
    column on or before it); snapshots are written for days up to the scenario's last day. A file
    already there with the same bytes is skipped; every write goes through a temporary name.
    """
    scenario_dir, drop_dir = Path(scenario_dir), Path(drop_dir)
    written: list[Path] = []
    for source in ("sbiz24", "kakao", "edu"):
        folder = scenario_dir / source
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            when = file_date(source, path.name)
            if when is None or when > day:
                continue
            dest = drop_dir / source / path.name
            if _copy_if_changed(path, dest):
                written.append(dest)
    last = _scenario_last_day(scenario_dir)
    folder = scenario_dir / "reference"
    if not folder.is_dir() or (last is not None and day > last):
        return written
    day_iso = day.isoformat()
    for name, (header, date_column) in REFERENCE_LISTS.items():
        path = folder / f"{name}.csv"
        if not path.exists():
            continue
        dest = drop_dir / "reference" / f"{name}_{day:%Y%m%d}.csv"
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        with tmp.open("w", encoding="utf-8", newline="") as f:
            f.writelines(_rows_known_by(path, header.index(date_column), day_iso))
        if dest.exists() and filecmp.cmp(tmp, dest, shallow=False):
            tmp.unlink()
            continue
        os.replace(tmp, dest)
        written.append(dest)
    return written


def sites() -> list[dict]:
    """The 소담스퀘어 sites for scenario.json."""
    return [
        {"code": code, "name": f"소담스퀘어 {short}", "capital_area": capital, "sido": list(sidos)}
        for code, short, capital, sidos in data.KAKAO_SITES
    ]
