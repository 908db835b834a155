"""판판대로 portal -> raw.portal_applications, one business day (KST) a run.

Pulls the versions updated in the run's interval (from the persisted watermark), lands them with COPY
(append-only, de-duplicated by record hash) and records the load in ops.load_ledger.
"""

from airflow.sdk import dag, task

from panro_airflow import DAILY_KST, DEFAULT_ARGS, RAW_PORTAL, START_DATE


@dag(
    dag_id="panro_ingest_portal",
    schedule=DAILY_KST,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["panro", "ingest", "portal"],
    doc_md=__doc__,
)
def panro_ingest_portal():
    @task(outlets=[RAW_PORTAL])
    def load_portal_increment(**context) -> dict:
        from panro.config import load_settings
        from panro.connectors.portal import PortalClient
        from panro.ingest.portal import ingest_portal
        from panro_airflow import business_day_of_interval, data_interval, mark_business_day, warehouse_url

        settings = load_settings()
        start, end = data_interval(context)
        client = PortalClient(settings.portal_base_url, settings.portal_token)
        result = ingest_portal(warehouse_url(), client, start, end, context["run_id"])
        mark_business_day(context, RAW_PORTAL, business_day_of_interval(context), load_id=result.load_id)
        return {"load_id": result.load_id, "received": result.rows_received, "inserted": result.rows_inserted}

    load_portal_increment()


panro_ingest_portal()
