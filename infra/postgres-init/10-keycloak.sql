-- Keycloak's tables live beside the services' schemas, in a schema of their own.
CREATE SCHEMA IF NOT EXISTS keycloak AUTHORIZATION case_ledger;
