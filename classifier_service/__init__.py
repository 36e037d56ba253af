"""Rasid's classifier service: tags ingested Arabic articles with military topics.

``shared.arabic`` normalizes the text; ``matching`` finds taxonomy and gazetteer phrases with their
clitics; ``classifier`` weighs them in context into a ``Classification``; ``taxonomy.yaml`` and
``gazetteer.yaml`` are the data. ``cli`` adds ``rasid classify`` and ``rasid bench classify``.
"""
