-- Bookkeeping of the projection migrations (ddl.py). {schema} is the worker's own schema,
-- analytics_state, whose schema_migrations table events.migrations created and already fills.

-- name: lock_migrations
-- The key events.migrations takes for the same schema: an API and a worker starting together
-- apply each file once, and never while the other is still migrating the event store.
SELECT pg_advisory_lock(%(key)s)

-- name: unlock_migrations
SELECT pg_advisory_unlock(%(key)s)

-- name: applied_migrations
SELECT name FROM {schema}.schema_migrations

-- name: record_migration
INSERT INTO {schema}.schema_migrations (name) VALUES (%(name)s)

-- name: forget_views
-- Only the views last made are recorded: a file returning to an earlier content (a rollback)
-- differs from that record, and its views are made again.
DELETE FROM {schema}.schema_migrations WHERE name LIKE 'views.sql@%'
