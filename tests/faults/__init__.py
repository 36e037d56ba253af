"""The fault suite: the compose services (or ``rasid run``) as local processes, a stream of real
articles dropped into the watched folder, one fault injected per scenario while they flow, and a
ledger that judges what came out (``make faults``)."""
