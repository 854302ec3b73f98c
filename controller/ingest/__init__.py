"""Pure ingestion math: sessions, persona matching and per-bucket aggregates. No I/O."""
