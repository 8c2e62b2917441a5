-- One row per case with every fact analysts slice by, kept current by the projector. The views
-- over them (case_funnel, sla_cases, sla_summary, travel_outcomes, review_outcomes, revenue) are
-- pure SQL in ../views.sql, so a rebuild that reproduces the tables reproduces the views. Those
-- views were first created here; views.sql drops and creates them again at every migration run.
CREATE TABLE {target}.cases (
    case_id                 uuid PRIMARY KEY,
    quote_id                uuid,
    opened_at               timestamptz,
    tumour_site             text,
    histology               text,
    rare_tumour             boolean,
    stage_group             text,
    referral_reasons        text[] NOT NULL DEFAULT '{{}}',
    patient_country         text,
    wants_video             boolean,
    records_completed_at    timestamptz,
    routed_at               timestamptz,
    centre_id               text,
    routing_attempts        integer NOT NULL DEFAULT 0,
    declines                integer NOT NULL DEFAULT 0,
    accepted_at             timestamptz,
    delivered_at            timestamptz,
    recommended_pathway     text,
    diagnosis_change        text,
    treatment_change        text,
    decided_at              timestamptz,
    decision                text CHECK (decision IN ('booked_treatment', 'returned_home')),
    treatment_type          text,
    travel_reason           text,
    ended_at                timestamptz,
    ending                  text,
    sla_target_due          date,
    sla_limit_due           date,
    sla_paused_since        timestamptz,
    sla_paused_business_days integer,
    sla_business_days_used  integer,
    sla_within_target       boolean,
    sla_within_limit        boolean,
    sla_at_risk_at          timestamptz,
    sla_breached_at         timestamptz,
    sla_calendar_unknown    boolean NOT NULL DEFAULT false
);
COMMENT ON TABLE {target}.cases IS 'One row per case: its coded facts and milestones, in business time.';

CREATE TABLE {target}.quotes (
    quote_id           uuid PRIMARY KEY,
    issued_at          timestamptz NOT NULL,
    tumour_site        text NOT NULL,
    review_cents       bigint NOT NULL,
    video_cents        bigint NOT NULL,
    price_book_version text NOT NULL
);
COMMENT ON TABLE {target}.quotes IS 'One row per instant quote given to a prospective patient.';

-- Money as it moved, one row per billing event and component (cents; refunds and credits positive).
CREATE TABLE {target}.money_movements (
    event_id    uuid   NOT NULL,
    component   text   NOT NULL,
    case_id     uuid   NOT NULL,
    occurred_at timestamptz NOT NULL,
    kind        text   NOT NULL CHECK (kind IN ('invoiced', 'voided', 'captured', 'refunded', 'sla_credit',
                                                'credit_issued', 'credit_redeemed')),
    cents       bigint NOT NULL,
    PRIMARY KEY (event_id, component)
);
CREATE INDEX ON {target}.money_movements (case_id);
COMMENT ON TABLE {target}.money_movements IS 'One row per money movement and price component.';
