"""Parse feed files with the ingest service's parser, one JSON line per file, in order:
``python -m tests.hostile.parse_feeds FILE...``. A feed the parser refuses prints its reason; any
other exception ends the run with its traceback, as it would end a poll."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from ingest_service.errors import FeedError
from ingest_service.feeds import parse_feed


def main(paths: list[str]) -> None:
    for path in paths:
        row: dict[str, object] = {"id": path}
        try:
            parsed = parse_feed(Path(path).read_bytes(), content_type="application/rss+xml")
        except FeedError as error:
            row["error"] = str(error)
        else:
            row["title"] = parsed.title
            row["titles"] = [article.title for article in parsed.articles]
            # An external entity naming /etc/passwd must never be read into an article.
            row["leak"] = any("root:" in article.text for article in parsed.articles)
        print(json.dumps(row, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
