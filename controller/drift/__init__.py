"""Drift, decided: compare what was applied with what Terraform or AWS report, classify each
difference, track findings across checks, and decide what a reconcile would restore. Pure: no
I/O, no clock (every function takes `now`)."""
