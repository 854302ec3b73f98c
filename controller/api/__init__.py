"""The daemon's HTTP API (FastAPI): read state, personas, forecasts, plans; approve; metrics."""
