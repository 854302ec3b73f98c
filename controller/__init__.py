"""Fleet Persona Controller: predictive scaling for Terraform-managed web fleets."""

__version__ = "0.1.0"
