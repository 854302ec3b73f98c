"""Event ingestion: sources, decoding, sessions, exactly-once storage, commands."""
