"""Ingest stage: statistics files → validated, normalised observations in DuckDB."""
