"""Monitoring after scaling, decided: the watch window after an apply, realized utilization from
measured use and capacity, and the fleet's status against its target. Pure."""
