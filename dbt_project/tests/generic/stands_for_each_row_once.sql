{#- A model that collapses rows (versions_of) stands for each of them exactly once: every row of
    `rows` is in the raw_ids of one and only one row of the model, and the model names no other row.
    The transformed gate reconciles raw against `rows` per load; this closes the step from rows to
    the model. -#}
{% test stands_for_each_row_once(model, rows) %}
with

stood_for as (

    select cast(ids.raw_id as bigint) as raw_id, count(*) as model_rows
    from {{ model }}
    cross join lateral jsonb_array_elements_text(raw_ids) as ids (raw_id)
    group by 1

)

select
    coalesce(received.raw_id, stood_for.raw_id) as raw_id,
    received.raw_id is not null as is_a_received_row,
    coalesce(stood_for.model_rows, 0) as model_rows
from {{ rows }} as received
full join stood_for
    on received.raw_id = stood_for.raw_id
where received.raw_id is null
    or stood_for.raw_id is null
    or stood_for.model_rows <> 1
{% endtest %}
