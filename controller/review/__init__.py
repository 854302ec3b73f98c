"""Plan review: what a plan would do to each fleet, what it costs, and whether it may apply."""
