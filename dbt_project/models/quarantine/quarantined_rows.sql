-- One row per raw row that cannot be typed as a record of its source (quarantine_holds), with the
-- reason's texts and what a person decided. Only accepted loads: a load the landing gate refused is
-- held whole (ops.rejected_loads). A row a person dismissed (ops.quarantine_decisions) stays listed with
-- is_dismissed, and is no longer reported by the transformed gate; a released row is staged, so it is
-- not here.
with

held as (

    select * from {{ ref('quarantine_holds') }}

),

final as (

    select
        ---------- the raw row
        held.raw_table,
        held.source_name,
        held.raw_id,
        held.load_id,
        held.loaded_at,
        held.received_in,
        held.line_no,

        ---------- why
        held.reason_code,
        reasons.reason_ko,
        reasons.reason_en,
        held.field,
        held.value,
        reasons.is_releasable,

        ---------- what a person decided
        decided.decision is not distinct from 'dismiss' as is_dismissed,
        decided.decided_by,
        decided.reason as decision_reason,
        decided.decided_at

    from held
    left join (
        select distinct raw_table, reason_code, reason_ko, reason_en, is_releasable
        from {{ ref('quarantine_reasons') }}
    ) as reasons
        on reasons.reason_code = held.reason_code
        and reasons.raw_table = held.raw_table
    left join {{ source('ops', 'quarantine_decisions') }} as decided
        on decided.raw_table = held.raw_table
        and decided.raw_id = held.raw_id

)

select * from final
