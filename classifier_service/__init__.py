"""Rasid's classifier service: tags ingested Arabic articles with military topics.

``taxonomy.yaml`` and the shared gazetteer (``shared/gazetteer.yaml``) are the data, read by
``taxonomy`` and ``shared.gazetteer``; ``compiler`` turns them into an index of phrases (``phrases``,
whose words take the clitics and endings of ``shared.forms``), which ``loading`` caches on disk
(``cache``). ``classifier`` tags an article: ``tokens`` splits its fields, ``matching`` finds the
phrases, ``scoring`` weighs them in context and ``evidence`` shows why. ``cli`` adds ``rasid classify``
and ``rasid bench classify``.
"""
