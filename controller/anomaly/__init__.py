"""Anomalies: typed records with a lifecycle, their detection and mitigation (pure)."""
