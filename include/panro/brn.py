"""Korean business identifiers: 사업자등록번호 (BRN, 10 digits) and 법인등록번호 (13 digits).

Check digits follow reference/domain-facts.md §4.1 and §4.2. python-stdnum does not verify the BRN
checksum, hence this module.
"""

from __future__ import annotations

import random
import re

_BRN_WEIGHTS = (1, 3, 7, 1, 3, 7, 1, 3, 5)
_TEN_DIGITS = re.compile(r"[0-9]{10}")
_NINE_DIGITS = re.compile(r"[0-9]{9}")
_TWELVE_DIGITS = re.compile(r"[0-9]{12}")
_THIRTEEN_DIGITS = re.compile(r"[0-9]{13}")
# Separators applicants type between the groups: spaces of any kind, hyphens and dashes, dots.
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212.]+")

CORPORATE_TYPE_CODES = ("81", "86", "87", "88")


def normalize_brn(value: str | None) -> str | None:
    """The 10 digits of a BRN typed with spaces, hyphens or dots, or None if it is not 10 digits."""
    if not isinstance(value, str):
        return None
    digits = _SEPARATORS.sub("", value)
    return digits if _TEN_DIGITS.fullmatch(digits) else None


def brn_check_digit(first9: str) -> int:
    """The check digit of the first 9 digits of a BRN."""
    if not isinstance(first9, str) or not _NINE_DIGITS.fullmatch(first9):
        raise ValueError(f"expected 9 digits, got {first9!r}")
    d = [int(c) for c in first9]
    s = sum(di * wi for di, wi in zip(d, _BRN_WEIGHTS, strict=True))
    s += (d[8] * 5) // 10
    return (10 - s % 10) % 10


def is_valid_brn(value: str | None) -> bool:
    """True if the value is 10 digits (after removing separators) with a correct check digit."""
    digits = normalize_brn(value)
    return digits is not None and brn_check_digit(digits[:9]) == int(digits[9])


def format_brn(value: str) -> str:
    """The display form XXX-XX-XXXXX; raises ValueError if the value is not 10 digits."""
    digits = normalize_brn(value)
    if digits is None:
        raise ValueError(f"not a 10-digit business registration number: {value!r}")
    return f"{digits[:3]}-{digits[3:5]}-{digits[5:]}"


def make_brn(rng: random.Random, individual: bool) -> str:
    """A valid 10-digit BRN: tax office 101-999, type 01-79 (individual) or 81/86/87/88, serial 0001-9999."""
    office = rng.randint(101, 999)
    kind = f"{rng.randint(1, 79):02d}" if individual else rng.choice(CORPORATE_TYPE_CODES)
    serial = rng.randint(1, 9999)
    first9 = f"{office:03d}{kind}{serial:04d}"
    return f"{first9}{brn_check_digit(first9)}"


def corporate_no_check_digit(first12: str) -> int:
    """The check digit of the first 12 digits of a 법인등록번호 (weights 1,2,1,2,...)."""
    if not isinstance(first12, str) or not _TWELVE_DIGITS.fullmatch(first12):
        raise ValueError(f"expected 12 digits, got {first12!r}")
    s = sum(int(c) * (1 if i % 2 == 0 else 2) for i, c in enumerate(first12))
    return (10 - s % 10) % 10


def is_valid_corporate_no(value: str | None) -> bool:
    """True if the value is 13 digits (after removing separators) with a correct check digit."""
    if not isinstance(value, str):
        return False
    digits = _SEPARATORS.sub("", value)
    return bool(_THIRTEEN_DIGITS.fullmatch(digits)) and corporate_no_check_digit(digits[:12]) == int(
        digits[12]
    )


# Registry-office codes (4 digits) and company-type codes (11 주식회사, 13 합자, 14 유한회사).
_REGISTRY_OFFICES = (1101, 1144, 1201, 1301, 1311, 1345, 1501, 1601, 1701, 1801, 2001, 2101, 2301, 2601, 2801)
_COMPANY_TYPES = ("11", "11", "11", "11", "11", "11", "14", "14", "13")


def make_corporate_no(rng: random.Random) -> str:
    """A valid 13-digit 법인등록번호 (no hyphen)."""
    first12 = f"{rng.choice(_REGISTRY_OFFICES):04d}{rng.choice(_COMPANY_TYPES)}{rng.randint(1, 999999):06d}"
    return f"{first12}{corporate_no_check_digit(first12)}"
