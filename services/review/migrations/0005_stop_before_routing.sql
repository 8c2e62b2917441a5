-- A case can end before review learns of its routing: the stop makes the row, without a centre.
ALTER TABLE {schema}.assignments ALTER COLUMN centre_id DROP NOT NULL;
ALTER TABLE {schema}.assignments ALTER COLUMN routed_at DROP NOT NULL;
ALTER TABLE {schema}.assignments ALTER COLUMN attempt DROP NOT NULL;
