-- Who read: the reader's opaque subject (their access token's `sub`), beside their centre. Reads
-- recorded before readers were people have none.
ALTER TABLE {schema}.record_accesses ADD COLUMN subject text;
