-- One row per business number: its 국세청 status as of the cut-off (the round day). The API answers the
-- status *now*, so the warehouse keeps each day's answer: the latest answer asked on or before the
-- cut-off is the status on the cut-off (answers asked later are not looked at, so a rerun of a day
-- judges what that day knew). The rule compares closed_on with the cut-off: a closure dated after it
-- (a closure filed ahead) still leaves the business open on the cut-off.
with

answers as (

    select * from {{ ref('stg_nts__status_answers') }}
    where brn is not null
        and asked_on <= {{ round_date() }}

),

final as (

    select distinct on (brn)
        brn,
        asked_on as answered_on,
        status_code,
        status,
        is_registered,
        closed_on,
        end_dt_text,
        {{ round_date() }} as judged_at
    from answers
    order by brn, asked_on desc, raw_id desc

)

select * from final
