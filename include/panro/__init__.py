"""panro: the data platform of the 2024 small-business online sales-channel programme (판로 지원사업)."""

__version__ = "0.1.0"
