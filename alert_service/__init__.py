"""Rasid service."""
