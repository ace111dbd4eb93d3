"""Runs: resolve a config, train or load, evaluate, and write one result record."""
