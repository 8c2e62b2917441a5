-- name: seen_topic
-- The identity of a topic as this observer (the relay, a consumer) last saw it.
SELECT topic_id FROM {schema}.broker_topics WHERE observer = %(observer)s AND topic = %(topic)s

-- name: see_topic
INSERT INTO {schema}.broker_topics (observer, topic, topic_id) VALUES (%(observer)s, %(topic)s, %(topic_id)s)
ON CONFLICT (observer, topic) DO UPDATE SET topic_id = EXCLUDED.topic_id, seen_at = now()
