"""Accuracy of the rules on articles they were tuned on and on articles they were not.

The labeled training set is split into ``--folds`` folds by a hash of each article's id, so the
split is the same on every machine and for every run. Rules are tuned by reading the mistakes on
the folds below ``--held-out`` only; that fold and the dev set are held out, and the gap between
the two groups of figures is what tuning on the seen folds bought that does not generalize.

    .venv/bin/python -m benchmarks.classifier_folds [--folds 5] [--held-out 4] [--mistakes seen] [--model]

``--mistakes seen`` (or ``held-out``) also prints the mistakes of that group, as
``rasid classify --evaluate`` does. By default the rules alone are scored; ``--model`` fits the
learned re-scoring on the seen folds only (as ``rasid train`` would) and scores every group with
rules and model, so the held-out figures are those of the whole classifier on articles neither
the rules nor the model were fitted on.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

from classifier_service.classifier import Classifier
from classifier_service.evaluation import LabeledArticle, Report, evaluate, read_labeled
from classifier_service.loading import load_classifier
from classifier_service.model import ModelSource, write_model

REPOSITORY = Path(__file__).resolve().parent.parent
EVAL = REPOSITORY.parent / "shared" / "eval"


def fold_of(article_id: str, folds: int) -> int:
    """The fold of an article: a hash of its id, the same on every machine."""
    return int.from_bytes(hashlib.sha256(article_id.encode("utf-8")).digest()[:8], "big") % folds


def _labeled(path: Path, classifier: Classifier) -> list[LabeledArticle]:
    with path.open(encoding="utf-8") as lines:
        return list(read_labeled(lines, topics=classifier.topics))


def _with_model(rules: Classifier, seen: Sequence[LabeledArticle], folder: Path) -> Classifier:
    """The rules with a learned re-scoring fitted on ``seen`` only (numpy is needed here only)."""
    from classifier_service.training import LabeledText, Recipe, examples_of, fit_model, trainable_topics

    examples = examples_of(rules, [LabeledText(a.id, a.title, a.text, dict(a.labels)) for a in seen])
    topics = trainable_topics(examples, rules.topics)
    path = folder / "model.json"
    write_model(fit_model(examples, topics, Recipe(), version="seen-folds"), path)
    return Classifier(rules.compiled, model=ModelSource(path))


def _row(name: str, report: Report) -> str:
    cells = "".join(
        f"{score.precision:>7.3f}{score.recall:>7.3f}{score.f1:>7.3f}" for score in report.topics.values()
    )
    return f"{name:<22}{report.articles:>6}{cells}{report.macro_f1:>8.3f}"


def _header(topics: Iterable[str]) -> str:
    cells = "".join(f"{topic[:20]:>21}" for topic in topics)
    sub = "".join(f"{'P':>7}{'R':>7}{'F1':>7}" for _ in topics)
    return f"{'':<28}{cells}\n{'articles':<22}{'n':>6}{sub}{'macro':>8}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=Path, default=EVAL / "train.jsonl", help="Labeled set in folds.")
    parser.add_argument("--dev", type=Path, default=EVAL / "dev.jsonl", help="Held-out labeled set.")
    parser.add_argument("--folds", type=int, default=5, help="Folds the training set is split into.")
    parser.add_argument("--held-out", type=int, default=4, help="The fold held out.")
    parser.add_argument("--taxonomy", type=Path, help="Taxonomy YAML (default: the packaged one).")
    parser.add_argument("--mistakes", choices=("seen", "held-out"), help="Also print these mistakes.")
    parser.add_argument("--model", action="store_true", help="Add a model fitted on the seen folds.")
    arguments = parser.parse_args()
    if not 0 <= arguments.held_out < arguments.folds:
        parser.error("--held-out must be a fold number below --folds")
    classifier = Classifier(load_classifier(arguments.taxonomy).compiled)
    train = _labeled(arguments.train, classifier)
    dev = _labeled(arguments.dev, classifier) if arguments.dev.exists() else []
    seen = [a for a in train if fold_of(a.id, arguments.folds) != arguments.held_out]
    fold = [a for a in train if fold_of(a.id, arguments.folds) == arguments.held_out]
    groups = {
        f"seen: folds != {arguments.held_out}": seen,
        f"held out: fold {arguments.held_out}": fold,
        "held out: dev": dev,
        "held out: fold + dev": fold + dev,
    }
    with tempfile.TemporaryDirectory() as folder:
        if arguments.model:
            classifier = _with_model(classifier, seen, Path(folder))
        reports = {name: evaluate(classifier, articles) for name, articles in groups.items() if articles}
        version = classifier.current_version()
    print(f"classifier {version}")
    print(_header(classifier.topics))
    for name, report in reports.items():
        print(_row(name, report))
    if arguments.mistakes:
        chosen = next(iter(reports)) if arguments.mistakes == "seen" else "held out: fold + dev"
        for line in reports[chosen].lines():
            print(line)


if __name__ == "__main__":
    main()
