"""Selection committee score files (drop folder) -> raw.evaluation_scores, once a day.

Each file is loaded once (processed-file ledger); an unreadable file is refused whole and recorded
in ops.load_ledger without stopping the others.
"""

from airflow.sdk import dag, task

from panro_airflow import DAILY_KST, DEFAULT_ARGS, RAW_EVALUATION, START_DATE


@dag(
    dag_id="panro_ingest_evaluation",
    schedule=DAILY_KST,
    start_date=START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=DEFAULT_ARGS,
    tags=["panro", "ingest", "evaluation"],
    doc_md=__doc__,
)
def panro_ingest_evaluation():
    @task(outlets=[RAW_EVALUATION])
    def load_score_files(**context) -> dict:
        from panro.config import load_settings
        from panro.ingest.evaluation import ingest_evaluation
        from panro_airflow import business_day_of_interval, mark_business_day, warehouse_url

        results = ingest_evaluation(warehouse_url(), load_settings().drop_dir, context["run_id"])
        mark_business_day(context, RAW_EVALUATION, business_day_of_interval(context))
        return {r.source_file: {"outcome": r.outcome, "inserted": r.rows_inserted} for r in results}

    load_score_files()


panro_ingest_evaluation()
