"""Tests of the classifier service."""
