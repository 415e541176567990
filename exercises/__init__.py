"""What students are asked: one module per exercise, found through `exercises.registry`."""
