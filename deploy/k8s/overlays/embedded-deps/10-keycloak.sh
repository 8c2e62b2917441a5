#!/bin/sh
# Run once by the postgres image, on an empty data directory: the schema Keycloak keeps its tables
# in, beside the services' schemas.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -c "CREATE SCHEMA IF NOT EXISTS keycloak AUTHORIZATION $POSTGRES_USER"
