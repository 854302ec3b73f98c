"""Domain shapes that cross module boundaries. Imports nothing else from the controller."""
