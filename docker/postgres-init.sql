-- Runs once, when the postgres container initialises an empty volume (docker-entrypoint-initdb.d).
-- Temporal's auto-setup creates its own `temporal` and `temporal_visibility` databases; toolloop's
-- application data lives in a separate database owned by the same user.
CREATE DATABASE toolloop;
