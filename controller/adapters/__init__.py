"""Adapters: everything that touches files, databases, Terraform, brokers or AWS."""
