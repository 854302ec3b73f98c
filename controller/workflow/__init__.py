"""The cycle: explicit steps with typed inputs and outputs, wired by build_controller()."""
