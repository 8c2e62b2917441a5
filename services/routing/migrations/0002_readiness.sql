-- What routing must know before it may send a case abroad: records complete, both PIPL
-- consents in force (and to which centres), and that the case has not ended.
ALTER TABLE {schema}.cases
    ADD COLUMN records_complete   boolean NOT NULL DEFAULT false,
    ADD COLUMN processing_consent boolean NOT NULL DEFAULT false,
    ADD COLUMN transfer_centres   text[]  NOT NULL DEFAULT '{{}}',
    ADD COLUMN ended              boolean NOT NULL DEFAULT false;
