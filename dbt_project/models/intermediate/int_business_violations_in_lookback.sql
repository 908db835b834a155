-- One row per business number with a 공정거래위원회 decision within the lookback before the cut-off (the
-- round day). "Within the last 1 year" is counted in calendar years as the Civil Act counts a period
-- backwards (민법 §157, §160): it runs from the day after the same date one year earlier through the
-- cut-off. Cut-off 2024-03-08: 2023-03-09 (365 days before, 2024 being a leap year) is within,
-- 2023-03-08 (366 days) is not; in a year without 29 February the 365th day before is the same date a
-- year earlier and is not within. The number of years is rule_parameters.fair_trade_lookback_years.
with

lookback as (

    select cast(value as integer) as years
    from {{ ref('rule_parameters') }}
    where parameter_code = 'fair_trade_lookback_years'
        and {{ in_force_on(round_date()) }}

),

window_bounds as (

    select
        cast({{ round_date() }} - make_interval(years => lookback.years) as date) as excluded_until,
        lookback.years
    from lookback

),

violations as (

    select * from {{ ref('stg_reference__fair_trade_violations') }}
    where brn is not null
        and decided_on is not null

),

final as (

    select
        violations.brn,
        cast(count(*) as integer) as violations_in_lookback,
        max(violations.decided_on) as latest_decided_on,
        string_agg(
            violations.decided_on || ' ' || coalesce(violations.case_no, '사건번호 없음')
            || coalesce(' (' || violations.violation_type || ')', ''),
            '; ' order by violations.decided_on desc, violations.case_no
        ) as decisions,
        max(window_bounds.excluded_until) + 1 as lookback_from,
        {{ round_date() }} as judged_at
    from violations
    cross join window_bounds
    where violations.decided_on > window_bounds.excluded_until
        and violations.decided_on <= {{ round_date() }}
    group by violations.brn

)

select * from final
