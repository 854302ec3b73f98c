"""Allocation: forecast demand -> capacity per fleet. Pure functions of their inputs."""
