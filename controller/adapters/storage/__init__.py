"""SQL storage (SQLAlchemy 2 Core): SQLite file by default, PostgreSQL by URL."""
