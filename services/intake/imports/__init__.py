"""CSV imports: upload into PostgreSQL, chunked resumable processing, progress, errors."""
