"""One ingest job per source system: connector -> raw, with the load ledger. Called by the ingest DAGs."""
