"""Checking machinery: gradient checks, check results, rendering, command line."""
