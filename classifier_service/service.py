"""What the classifier service tells ``shared``: its worker and queue, and the topics its taxonomy
defines (see :mod:`shared.services`)."""

from __future__ import annotations

from typing import Final

from shared.services import Service, Worker

CLASSIFY_QUEUE: Final = "classify"


def taxonomy_topics() -> frozenset[str]:
    """The topic names of the taxonomy at ``RASID_TAXONOMY_PATH`` (or the packaged one)."""
    # Imported when asked: every process loads this declaration, few need the taxonomy.
    from classifier_service.settings import ClassifierSettings
    from classifier_service.taxonomy import PACKAGED_TAXONOMY, load_taxonomy
    from shared.settings import load_settings

    path = load_settings(ClassifierSettings).taxonomy_path or PACKAGED_TAXONOMY
    return frozenset(load_taxonomy(path).topics)


SERVICE: Final = Service(
    worker=Worker(name="classify", app="classifier_service.tasks:app", queues=(CLASSIFY_QUEUE,)),
    routes={"classifier.*": CLASSIFY_QUEUE},
    topics=taxonomy_topics,
)
