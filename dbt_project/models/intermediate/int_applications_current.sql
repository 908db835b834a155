-- The current version of each application as of the end of the round day (KST), from every channel:
-- the rows of int_applications_current_folded, which holds them without the round day, with that day.
-- A view: the fold rewrites only the applications whose current version changed, and the day every row
-- is as of would otherwise rewrite them all.
{{ config(materialized='view') }}
select
    {%- for name, type in current_application_columns() %}
    {% if name == 'as_of_round_date' -%}
    {{ round_date() }} as as_of_round_date
    {%- else -%}
    folded.{{ name }}
    {%- endif %}{{ ',' if not loop.last }}
    {%- endfor %}
from {{ ref('int_applications_current_folded') }} as folded
