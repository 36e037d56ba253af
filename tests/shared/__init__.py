"""Tests of the code in shared/ that every service reads with."""
