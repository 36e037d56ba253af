"""The contract between Rasid's services: settings base, Celery app factory, message schemas,
task and queue names, database plumbing and Arabic text utilities. Imports no service."""
