"""Persona matching: a generative (naive-Bayes) model per persona built from its definition."""
