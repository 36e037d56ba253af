"""Celery entry points of the classifier service: tag an ingested article, hand it on."""

from __future__ import annotations

from typing import Any

from classifier_service.classifier import load_classifier
from classifier_service.settings import classifier_settings
from shared.celery_app import create_celery_app
from shared.messages import ArticleClassified, ArticleIngested
from shared.task_names import CLASSIFY_ARTICLE, STORE_CLASSIFIED

app = create_celery_app("classify")


@app.task(name=CLASSIFY_ARTICLE)
def classify_article(payload: dict[str, Any]) -> None:
    """Tag one ingested article and hand it to the alert service. Safe to run twice: it stores nothing."""
    article = ArticleIngested.from_payload(payload)
    classifier = load_classifier(classifier_settings().taxonomy_path)
    classification = classifier.classify(title=article.title, text=article.text)
    message = ArticleClassified(article=article, classification=classification)
    app.send_task(STORE_CLASSIFIED, kwargs={"payload": message.to_payload()})
