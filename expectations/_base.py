"""What every suite module shares: the two severities, the ``Check`` a gate runs, SQL helpers.

Severity is Great Expectations' own ``severity`` field of an expectation (GX 1.x,
``FailureSeverity``): ``critical`` is a hard failure (the gate fails, what comes after it stops),
``warning`` is reported and alerted while the run goes on. ``meta["severity"]`` repeats it as
``hard`` / ``warning`` for the readers of the stored results. A threshold breached "a little" and
"a lot" is the same expectation twice (``tiered``): a warning at the strict share, a hard failure
at the loose one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import great_expectations as gx
import great_expectations.expectations as gxe
from great_expectations.expectations.expectation import Expectation
from great_expectations.expectations.metadata_types import FailureSeverity

HARD = FailureSeverity.CRITICAL
WARNING = FailureSeverity.WARNING

_LABEL = {HARD: "중단", WARNING: "경고"}  # what staff read in Data Docs: stops the run / warns


@dataclass(frozen=True)
class Check:
    """One validation of a gate: a suite against one batch.

    ``query`` is the SQL of the batch (it must start with ``select``); ``None`` validates the whole
    ``table``. ``load_ids`` name the loads a landing batch was cut from: one for a load's own checks,
    several for a check of their table, whose verdict then holds for each of them."""

    suite: gx.ExpectationSuite
    table: str
    query: str | None = None
    load_ids: tuple[str, ...] = ()

    @property
    def batch(self) -> str:
        if len(self.load_ids) > 1:
            return f"{self.table}@{len(self.load_ids)} loads"
        return f"{self.table}@{self.load_ids[0]}" if self.load_ids else self.table


def expect(
    cls: type[Expectation],
    severity: FailureSeverity,
    description: str,
    why: str,
    *,
    tier: str | None = None,
    **kwargs,
):
    """An expectation with its severity, a Korean description (shown in Data Docs instead of GX's
    generated sentence; no ``$`` in it: GX reads it as a template) and the reason as its note.
    ``tier`` names the pair of a ``tiered`` expectation."""
    meta = {"severity": "hard" if severity == HARD else "warning", "why": why}
    if tier:
        meta["tier"] = tier
    return cls(
        severity=severity,
        description=f"[{_LABEL[severity]}] {description}",
        notes=why,
        meta=meta,
        **kwargs,
    )


def tiered(
    cls: type[Expectation],
    *,
    hard: float,
    warn: float | None,
    description: str,
    why: str,
    **kwargs,
) -> list[Expectation]:
    """The same map expectation as a hard failure under share ``hard`` and, when ``warn`` is
    stricter, as a warning under share ``warn``. When both fail, only the hard failure is reported
    (``meta["tier"]`` pairs them)."""
    tier = f"{cls.__name__}:{kwargs.get('column')}"
    out = [expect(cls, HARD, f"{description} (≥ {hard:.0%})", why, tier=tier, mostly=hard, **kwargs)]
    if warn is not None and warn > hard:
        out.append(
            expect(cls, WARNING, f"{description} (≥ {warn:.0%})", why, tier=tier, mostly=warn, **kwargs)
        )
    return out


_JOIN = re.compile(r"\bjoin\b", re.IGNORECASE)
_BATCH_ALIAS = re.compile(r"\{batch\}(\s+as\s+\w+)", re.IGNORECASE)


def unexpected_rows(severity: FailureSeverity, description: str, why: str, query: str):
    """A SQL check that fails when ``query`` returns rows (GX's ``UnexpectedRowsExpectation``).

    Write the batch as ``{batch} as <alias>``. GX substitutes ``{batch}`` by ``(<batch sql>)`` when
    the query has a JOIN, and by ``(<batch sql>) AS subselect`` when it has none; in the second case
    ``{batch} as x`` becomes ``(select * from {batch}) as x`` here, so both read the same."""
    if not _JOIN.search(query):
        query = _BATCH_ALIAS.sub(r"(select * from {batch})\1", query)
    return expect(gxe.UnexpectedRowsExpectation, severity, description, why, unexpected_rows_query=query)


def suite(name: str, expectations: Iterable[Expectation | list[Expectation]], **meta) -> gx.ExpectationSuite:
    flat: list[Expectation] = []
    for item in expectations:
        flat.extend(item if isinstance(item, list) else [item])
    return gx.ExpectationSuite(name=name, expectations=flat, meta=meta or None)


def literal(value: object) -> str:
    """A SQL string literal (quotes doubled); the suites format their few run values with it."""
    return "'" + str(value).replace("'", "''") + "'"


def brn_mask(expr: str) -> str:
    """The shape of a BRN with its digits hidden: separators (spaces, hyphens and dashes, dots)
    removed, every digit turned into 9, a missing value into ''. A well-formed BRN gives
    ``9999999999``; the BRN itself (personal data) never reaches a result, an alert or Data Docs."""
    return (
        "regexp_replace(regexp_replace(coalesce(" + expr + ", ''),"
        " '[[:space:]\u00a0\u3000.\u2010\u2011\u2012\u2013\u2014\u2015\uff0d-]', '', 'g'), '[0-9]', '9', 'g')"
    )


# ISO-8601 date and time, with T or a space, seconds and offset optional (staging reads no offset as KST).
ISO_DATETIME = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$"
)
ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
TEN_DIGITS = r"^9{10}$"  # on a brn_mask
KSIC = r"^[0-9]{5}$"
