-- One row per application and bonus item it claims: verified or not on the application date, and why
-- (int_bonus_claims_verified), with the row (A / B) and the points the row is worth. An application
-- earns each row's points once, whatever the number of its verified items (fct_score).
with

claims as (

    select * from {{ ref('int_bonus_claims_verified') }}

),

bonus_rows as (

    select * from {{ ref('bonus_rows') }}

),

final as (

    select
        claims.application_id,
        claims.bonus_code,
        claims.bonus_row,
        claims.item_no,
        claims.bonus_name_ko,
        claims.evidence_kind,
        claims.claim_status,
        claims.is_verified,
        claims.evidence_detail,
        cast(bonus_rows.points as numeric) as row_points,
        bonus_rows.is_assumed as row_points_are_assumed,
        claims.applied_on,
        {{ round_date() }} as judged_at
    from claims
    left join bonus_rows
        on claims.bonus_row = bonus_rows.bonus_row
        and {{ in_force_on('claims.applied_on', 'bonus_rows') }}

)

select * from final
