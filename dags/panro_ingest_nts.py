"""국세청 business status -> raw.nts_status_answers, after the application sources have landed a day.

Asks only for the BRNs landed that have no answer for the day yet, 100 a call, and keeps each day's
answers (the API only tells the status now; eligibility needs it on the deadline).
"""

from airflow.sdk import AssetAll, Param, dag, task

from panro_airflow import APPLICATION_ASSETS, DEFAULT_ARGS, RAW_ASSETS, START_DATE


@dag(
    dag_id="panro_ingest_nts",
    schedule=AssetAll(*APPLICATION_ASSETS),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={"business_day": Param(None, type=["null", "string"], description="YYYY-MM-DD (KST)")},
    tags=["panro", "ingest", "nts"],
    doc_md=__doc__,
)
def panro_ingest_nts():
    @task
    def load_status_answers(**context) -> dict:
        from panro.config import load_settings
        from panro.connectors.nts import NtsClient
        from panro.ingest.nts import ingest_nts
        from panro_airflow import triggered_business_day, warehouse_url

        settings = load_settings()
        result = ingest_nts(
            warehouse_url(),
            NtsClient(settings.nts_base_url, settings.nts_service_key),
            triggered_business_day(context),
            context["run_id"],
        )
        return {"load_ids": [result.load_id], "asked": result.message, "kept": result.rows_inserted}

    @task(outlets=[RAW_ASSETS["nts"]])
    def landing_gate(load: dict, **context) -> dict:
        from panro_airflow import mark_business_day, quality_gate, triggered_business_day

        day = triggered_business_day(context)
        checked = quality_gate(context, "landing", day, load_ids=load["load_ids"])
        mark_business_day(context, RAW_ASSETS["nts"], day, load_ids=load["load_ids"])
        return checked

    landing_gate(load_status_answers())


panro_ingest_nts()
