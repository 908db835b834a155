"""raw -> dbt staging, intermediate -> marts (eligibility, scores, the decision ledger) -> daily extract.

Runs when every ingest DAG has landed a day; decides that business day (``round_date``).
"""

from airflow.sdk import AssetAll, Param, dag, task

from panro_airflow import DEFAULT_ARGS, MARTS, RAW_ASSETS, START_DATE


@dag(
    dag_id="panro_transform",
    schedule=AssetAll(*RAW_ASSETS.values()),
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    params={"business_day": Param(None, type=["null", "string"], description="YYYY-MM-DD to decide (KST)")},
    tags=["panro", "transform", "dbt", "extract"],
    doc_md=__doc__,
)
def panro_transform():
    @task
    def resolve_round(**context) -> dict:
        from panro_airflow import triggered_business_day

        # Only what identifies the round travels between tasks; the seed and the salt are configuration
        # that run_dbt adds itself (the salt must not land in XCom).
        return {"round_date": triggered_business_day(context).isoformat(), "run_id": context["run_id"]}

    @task
    def dbt_seed(dbt_vars: dict) -> None:
        from panro.dbt import run_dbt
        from panro_airflow import warehouse_url

        run_dbt(["seed"], warehouse_url(), dbt_vars)

    @task
    def dbt_build_staging_intermediate(dbt_vars: dict) -> None:
        from panro.dbt import run_dbt
        from panro_airflow import warehouse_url

        run_dbt(["build", "--select", "staging", "intermediate"], warehouse_url(), dbt_vars)

    @task(outlets=[MARTS])
    def dbt_build_marts(dbt_vars: dict) -> None:
        from panro.dbt import run_dbt
        from panro_airflow import warehouse_url

        run_dbt(["build", "--select", "marts", "restricted"], warehouse_url(), dbt_vars)

    @task
    def write_selection_extract(dbt_vars: dict) -> dict:
        from datetime import date

        from panro.config import load_settings
        from panro.extract import write_daily_extract
        from panro_airflow import warehouse_url

        manifest = write_daily_extract(
            warehouse_url(), load_settings().outbox_dir, date.fromisoformat(dbt_vars["round_date"])
        )
        return {"files": len(manifest["files"]) if manifest else 0}

    dbt_vars = resolve_round()
    seeded = dbt_seed(dbt_vars)
    staged = dbt_build_staging_intermediate(dbt_vars)
    marts = dbt_build_marts(dbt_vars)
    extract = write_selection_extract(dbt_vars)
    seeded >> staged >> marts >> extract


panro_transform()
