"""Drop-folder sources -> raw, one DAG per source system, once a day (KST):

- panro_ingest_evaluation: selection committee score files (evaluation/scores_<round>.csv)
- panro_ingest_sbiz24: 소상공인24 O2O exports (sbiz24/o2o_YYYYMMDD.csv, CP949)
- panro_ingest_kakao: 소담스퀘어 KakaoTalk-channel workbooks (kakao/<site>_YYYYMMDD.xlsx)
- panro_ingest_edu: education completions (edu/completions_YYYYMMDD.csv)
- panro_ingest_reference: the reference lists (reference/<list>_YYYYMMDD.csv), one task a list

Each new file is loaded once (processed-file ledger); an unreadable file is refused whole and recorded in
ops.load_ledger without stopping the others. Each source's landing gate (Great Expectations) then
validates the day's loads; only a passing gate announces the raw asset.
"""

from airflow.sdk import dag, task

from panro_airflow import DAILY_KST, DEFAULT_ARGS, FILE_SOURCE_GROUPS, RAW_ASSETS, START_DATE


def file_ingest_dag(dag_id: str, group: str, sources: list[str]):
    @dag(
        dag_id=dag_id,
        schedule=DAILY_KST,
        start_date=START_DATE,
        catchup=False,
        max_active_runs=1,
        default_args=DEFAULT_ARGS,
        tags=["panro", "ingest", group],
        doc_md=__doc__,
    )
    def ingest():
        for source in sources:

            @task(task_id=f"load_{source}_files")
            def load(source: str = source, **context) -> dict:
                from panro.config import load_settings
                from panro.ingest.files import SOURCES, ingest_files
                from panro_airflow import warehouse_url

                results = ingest_files(
                    warehouse_url(), SOURCES[source], load_settings().drop_dir, context["run_id"]
                )
                return {
                    "load_ids": [r.load_id for r in results],
                    "files": {
                        r.source_file: {"outcome": r.outcome, "inserted": r.rows_inserted} for r in results
                    },
                }

            @task(task_id=f"landing_gate_{source}", outlets=[RAW_ASSETS[source]])
            def landing_gate(loaded: dict, source: str = source, **context) -> dict:
                from panro_airflow import business_day_of_interval, mark_business_day, quality_gate

                day = business_day_of_interval(context)
                checked = quality_gate(context, "landing", day, load_ids=loaded["load_ids"])
                mark_business_day(context, RAW_ASSETS[source], day)
                return checked

            landing_gate(load())

    return ingest()


for group, sources in FILE_SOURCE_GROUPS.items():
    file_ingest_dag(f"panro_ingest_{group}", group, sources)
