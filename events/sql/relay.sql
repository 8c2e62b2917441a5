-- name: unpublished
-- Every row not yet acknowledged, oldest first. A row whose transaction commits late is still
-- found here later: the relay never skips past it the way an "id > last seen" cursor would.
SELECT id, topic, message_key, message FROM {schema}.outbox
WHERE published_at IS NULL ORDER BY id LIMIT %(limit)s

-- name: mark_published
UPDATE {schema}.outbox SET published_at = now() WHERE id = ANY(%(ids)s)

-- name: backlog
SELECT count(*) AS backlog FROM {schema}.outbox WHERE published_at IS NULL
