{#-
    The versions of applications received as repeated rows (소상공인24 exports, 소담스퀘어 workbooks):
    `rows` (a CTE or relation with application_id, received_on, raw_id and content_key) are put in
    receipt order per application (received_on, then raw_id), and a row whose content_key differs from
    the row before starts a version, so a repeat inside a file or an unchanged row in a later file is
    the same version, while content that goes back to an earlier state is a new one. One row per
    version: its first row, with every column of `rows`, version_no (1, 2, ...), times_received (the
    rows it stands for) and raw_ids (their raw_id, jsonb).
-#}
{% macro versions_of(rows) -%}
    select counted.*
    from (
        select
            numbered.*,
            count(*) over (partition by application_id, version_no) as times_received,
            {{ raw_ids_over('partition by application_id, version_no') }} as raw_ids
        from (
            select
                changes.*,
                sum(starts_version) over (
                    partition by application_id
                    order by received_on, raw_id
                    rows between unbounded preceding and current row
                ) as version_no
            from (
                select
                    received_rows.*,
                    case
                        when content_key is not distinct from lag(content_key) over received_order then 0
                        else 1
                    end as starts_version
                from {{ rows }} as received_rows
                window received_order as (partition by application_id order by received_on, raw_id)
            ) as changes
        ) as numbered
    ) as counted
    where counted.starts_version = 1
{%- endmacro %}
