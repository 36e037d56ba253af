"""Tests of the alert service."""
