"""One ingest job per source system: connector -> raw, with the load ledger. Called by the ingest DAGs."""

# The file sources by ingest DAG (one per source system; the reference lists come from one partner,
# so one DAG with a task each), in the DAGs' order. Here, not in the Airflow plugin, so the benchmark
# runs the same groups without importing Airflow.
FILE_SOURCE_GROUPS = {
    "evaluation": ["evaluation"],
    "sbiz24": ["sbiz24"],
    "kakao": ["kakao"],
    "edu": ["edu"],
    "reference": [
        "reference_credit_checks",
        "reference_fair_trade_violations",
        "reference_certifications",
        "reference_mail_order_registry",
        "reference_onnuri_listings",
    ],
}
