"""dbt docs for analysts: `dbt docs generate` on the warehouse into <state>/dbt_docs/ (static_index.html
opens on its own; index.html, catalog.json and manifest.json for `dbt docs serve`).

Once a day at 06:00 KST, after the night's rounds, on its own schedule rather than on the marts asset: the
docs decide nothing, so a replayed day (panro.replay) does not pay for them. A run that overlaps a
transform is safe: dbt works in a target folder of its own and each file is replaced whole.
"""

from airflow.sdk import dag, task

from panro_airflow import DEFAULT_ARGS, DOCS_DAILY_KST, START_DATE


@dag(
    dag_id="panro_docs",
    schedule=DOCS_DAILY_KST,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["panro", "docs", "dbt"],
    doc_md=__doc__,
)
def panro_docs():
    @task
    def generate_dbt_docs() -> dict:
        from panro.dbt import generate_docs
        from panro_airflow import warehouse_url

        return {"docs": str(generate_docs(warehouse_url()))}

    generate_dbt_docs()


panro_docs()
