-- Personal data of the applicants that staff need in the selection extracts, one row per application
-- (current version as of the round day). Lives only in schema `restricted`, which BI roles cannot read;
-- join to the marts by application_id.
with

applications as (

    select * from {{ ref('int_applications_current') }}

),

final as (

    select
        ---------- ids
        application_id,
        case when brn is not null then {{ format_brn('brn') }} end as brn,

        ---------- names
        business_name,
        representative_name,

        ---------- contact
        phone,
        email,

        ---------- location
        sido,
        sigungu,
        address

    from applications

)

select * from final
