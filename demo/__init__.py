"""`python -m demo`: plays a realistic year of second-opinion cases through the public HTTP APIs.

plan.py    each case's profile and steps in business time (pure, seeded; no I/O)
api.py     the HTTP client: bearer tokens, Idempotency-Key, bounded retries and polls
play.py    drives each case's steps over HTTP, several cases at a time
report.py  waits for the analytics projection, then prints the analyst's summary
"""
