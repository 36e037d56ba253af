"""Rasid's ingest service: picks up Arabic articles from a watched folder and from RSS/Atom feeds,
decodes them whatever their encoding, drops duplicates and hands each new article to the classifier."""
