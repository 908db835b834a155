"""raw -> dbt staging, intermediate -> marts (eligibility, scores, the decision ledger) -> daily extract.

Runs when every ingest DAG has landed a day (and passed its landing gate); decides that business day
(``round_date``). Source freshness, the transformed gate and the publish gate each stop what comes
after them: no marts from stale or broken staging, no extract and no marts asset (BI refresh) from
marts that broke an invariant.
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
        from panro_airflow import round_to_decide

        return round_to_decide(context)

    @task
    def dbt_seed(dbt_vars: dict) -> bool:
        from panro.dbt import seed_if_changed
        from panro_airflow import warehouse_url

        return seed_if_changed(warehouse_url(), dbt_vars) is not None  # False: unchanged, not reloaded

    @task
    def source_freshness(dbt_vars: dict, **context) -> dict:
        from datetime import date

        from panro_airflow import freshness_check

        return freshness_check(context, date.fromisoformat(dbt_vars["round_date"]))

    @task
    def dbt_build_staging_intermediate(dbt_vars: dict) -> None:
        from panro.dbt import BUILD_STAGING_INTERMEDIATE, run_dbt
        from panro_airflow import warehouse_url

        run_dbt(BUILD_STAGING_INTERMEDIATE, warehouse_url(), dbt_vars)

    @task
    def transformed_gate(dbt_vars: dict, **context) -> dict:
        from datetime import date

        from panro_airflow import quality_gate

        return quality_gate(context, "transformed", date.fromisoformat(dbt_vars["round_date"]))

    @task
    def dbt_build_marts(dbt_vars: dict) -> None:
        from panro.dbt import BUILD_MARTS, run_dbt
        from panro_airflow import warehouse_url

        run_dbt(BUILD_MARTS, warehouse_url(), dbt_vars)

    # The marts asset (BI refresh) is announced only by a passing publish gate.
    @task(outlets=[MARTS])
    def publish_gate(dbt_vars: dict, **context) -> dict:
        from datetime import date

        from panro_airflow import quality_gate

        return quality_gate(context, "publish", date.fromisoformat(dbt_vars["round_date"]))

    @task
    def write_selection_extract(dbt_vars: dict, **context) -> dict:
        from datetime import date

        from panro_airflow import write_verified_extract

        return write_verified_extract(context, date.fromisoformat(dbt_vars["round_date"]))

    @task
    def deliver_extract(dbt_vars: dict) -> dict | None:
        from datetime import date

        from panro.delivery import deliver_day
        from panro_airflow import warehouse_url

        # outbox (default), e-mail or SFTP as PANRO_DELIVERY says; a rerun sends nothing twice
        return deliver_day(date.fromisoformat(dbt_vars["round_date"]), url=warehouse_url())

    dbt_vars = resolve_round()
    (
        dbt_seed(dbt_vars)
        >> source_freshness(dbt_vars)
        >> dbt_build_staging_intermediate(dbt_vars)
        >> transformed_gate(dbt_vars)
        >> dbt_build_marts(dbt_vars)
        >> publish_gate(dbt_vars)
        >> write_selection_extract(dbt_vars)
        >> deliver_extract(dbt_vars)
    )


panro_transform()
