"""Projection workers: follow the committed log and keep read models up to date."""
