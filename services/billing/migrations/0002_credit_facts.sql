-- Refunds are now decided on review's answer to an ending (ReviewEnded), which carries what the
-- centre had done by then: billing's own flags, set in whatever order events arrived, are gone.
-- What billing still keeps is what the fee credit needs, in either order of arrival: the centre
-- that delivered the review and the centre where the treatment was booked.
ALTER TABLE {schema}.review_facts ADD COLUMN reviewed_by text;
ALTER TABLE {schema}.review_facts ADD COLUMN booked_centre text;
ALTER TABLE {schema}.review_facts ADD COLUMN booking_event_id uuid;
ALTER TABLE {schema}.review_facts ADD COLUMN booked_at timestamptz;
-- A review delivered before this change: the centre whose acceptance was in force delivered it.
UPDATE {schema}.review_facts SET reviewed_by = centre_id WHERE delivered;
ALTER TABLE {schema}.review_facts DROP COLUMN accepted;
ALTER TABLE {schema}.review_facts DROP COLUMN delivered;
ALTER TABLE {schema}.review_facts DROP COLUMN video_held;
ALTER TABLE {schema}.review_facts DROP COLUMN centre_id;
