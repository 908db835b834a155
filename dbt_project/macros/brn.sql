{#-
    사업자등록번호 (business registration number, BRN): 10 digits, XXX-XX-XXXXX.
    See reference/domain-facts.md §4.1.
-#}

{#- Strip whitespace and hyphens (ASCII, no-break and ideographic spaces; ASCII, Unicode and full-width
    hyphens and dashes); 10 digits remain -> that text, else null. translate() rather than a regex: it
    is much cheaper on every row of a view. -#}
{% macro normalize_brn(expr) -%}
    {%- set stripped = "translate((" ~ expr ~ "), E' \\t\\r\\n\\u00a0\\u3000-\\u2010\\u2011\\u2012\\u2013\\u2014\\u2015\\uff0d', '')" -%}
    (case when {{ stripped }} ~ '^[0-9]{10}$' then {{ stripped }} end)
{%- endmacro %}

{#-
    Check digit of a BRN: s = Σ d_i·w_i (i = 1..9, w = 1,3,7,1,3,7,1,3,5) + floor(d_9·5/10);
    valid when d_10 = (10 - s mod 10) mod 10. The input is normalised first, so '120-81-47521' works;
    null, a wrong length or a wrong check digit -> false (never null). Only the check digit is verified
    (not the tax-office or serial ranges).
-#}
{% macro brn_is_valid(expr) -%}
    {%- set brn = normalize_brn(expr) -%}
    {%- set weights = [1, 3, 7, 1, 3, 7, 1, 3, 5] -%}
    coalesce((case
        when {{ brn }} is not null then
            (10 - ((
                {%- for w in weights %}
                substr({{ brn }}, {{ loop.index }}, 1)::int * {{ w }} +
                {%- endfor %}
                (substr({{ brn }}, 9, 1)::int * 5) / 10
            ) % 10)) % 10 = substr({{ brn }}, 10, 1)::int
    end), false)
{%- endmacro %}

{#- A normalised BRN as staff read it: 000-00-00000. -#}
{% macro format_brn(expr) -%}
    (substr(({{ expr }}), 1, 3) || '-' || substr(({{ expr }}), 4, 2) || '-' || substr(({{ expr }}), 6, 5))
{%- endmacro %}

{#-
    The pseudonymous business key of the marts: md5(salt || normalised BRN). Null BRN -> null.
    The salt is the environment variable PANRO_BUSINESS_KEY_SALT when set (panro.dbt.run_dbt sets it
    from configuration, so the salt never travels in --vars or XCom), else var('business_key_salt').
    Production sets its own salt so that keys cannot be recomputed from BRNs.
-#}
{% macro business_key(brn) -%}
    {%- set salt = env_var('PANRO_BUSINESS_KEY_SALT', '') or var('business_key_salt') -%}
    md5({{ "'" ~ (salt | string | replace("'", "''")) ~ "'" }} || ({{ brn }}))
{%- endmacro %}
