# One image for every Rasid service; docker-compose.yml picks the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY ingest_service ./ingest_service
COPY classifier_service ./classifier_service
COPY alert_service ./alert_service
RUN pip install . \
    && useradd --create-home --uid 1000 rasid \
    && mkdir -p /srv/rasid/inbox /srv/rasid/data \
    && chown -R rasid:rasid /srv/rasid

USER rasid
# The classifier's compiled taxonomy and model, kept in the user's cache as a first run would.
RUN rasid classify --jsonl /dev/null
ENV RASID_WATCH_DIR=/srv/rasid/inbox \
    RASID_DATA_DIR=/srv/rasid/data \
    RASID_WEB_HOST=0.0.0.0
EXPOSE 8080
ENTRYPOINT ["rasid"]
CMD ["--help"]
