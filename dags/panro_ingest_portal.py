"""판판대로 portal -> raw.portal_applications, one business day (KST) a run.

Pulls the versions updated in the run's interval (from the persisted watermark), lands them with COPY
(append-only, de-duplicated by record hash) and records the load in ops.load_ledger; the landing gate
(Great Expectations) then validates the load, and only a passing load announces the raw asset.
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
    @task
    def load_portal_increment(**context) -> dict:
        from panro.config import load_settings
        from panro.connectors.portal import PortalClient
        from panro.ingest.portal import ingest_portal
        from panro_airflow import data_interval, warehouse_url

        settings = load_settings()
        start, end = data_interval(context)
        client = PortalClient(settings.portal_base_url, settings.portal_token)
        result = ingest_portal(warehouse_url(), client, start, end, context["run_id"])
        return {
            "load_ids": [result.load_id],
            "received": result.rows_received,
            "inserted": result.rows_inserted,
        }

    @task(outlets=[RAW_PORTAL])
    def landing_gate(load: dict, **context) -> dict:
        from panro_airflow import business_day_of_interval, mark_business_day, quality_gate

        day = business_day_of_interval(context)
        checked = quality_gate(context, "landing", day, load_ids=load["load_ids"])
        mark_business_day(context, RAW_PORTAL, day, load_ids=load["load_ids"])
        return checked

    landing_gate(load_portal_increment())


panro_ingest_portal()
