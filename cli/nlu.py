from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from nlu.classifier import load_or_train
from nlu.evaluate import evaluate, read_test_files
from nlu.training_data import TrainingDataError

group = AppGroup("nlu", help="Intent understanding: train, try and measure.")


@group.command("train")
def train():
    """Train the embedded classifier from nlu/data/ (also done at start-up when the data changed)."""
    try:
        classifier = load_or_train(force=True)
    except TrainingDataError as error:
        raise click.ClickException(str(error)) from None
    click.echo(f"trained: {len(classifier.intents)} intents, data {classifier.fingerprint}")


@group.command("parse")
@click.argument("text")
@click.option("--json", "as_json", is_flag=True, help="Print Rasa's ParseResult as JSON.")
def parse(text, as_json):
    """Show what the bot understands in TEXT."""
    result = current_app.extensions["dda"].nlu.parse(text)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=2))
        return
    click.echo(f"{result['intent']['name']} ({result['intent']['confidence']:.2f}), "
               f"language {result['language'] or 'unsure'}")
    for ranked in result["intent_ranking"][1:]:
        click.echo(f"  then {ranked['name']} ({ranked['confidence']:.2f})")


@group.command("evaluate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print Rasa's intent evaluation as JSON.")
@click.option("--min-accuracy", type=float, default=0.0, help="Exit 1 below this accuracy.")
def evaluate_command(paths, as_json, min_accuracy):
    """Accuracy on held-out test files in Rasa nlu.yml format (a file per language, or a folder)."""
    try:
        data = read_test_files(list(paths))
    except TrainingDataError as error:
        raise click.ClickException(str(error)) from None
    runtime = current_app.extensions["dda"]
    report = evaluate(lambda text: runtime.nlu.parse(text, with_words=True), data,
                      urgent_threshold=runtime.settings.nlu.urgent_threshold)
    evaluation = report["intent_evaluation"]
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        click.echo(f"accuracy {evaluation['accuracy']:.3f} on {len(evaluation['predictions'])} messages")
        for language, row in evaluation["per_language"].items():
            click.echo(f"  {language:<4}{row['accuracy']:.3f}  ({row['total']})")
        _echo_urgent(evaluation["urgent"])
    if evaluation["accuracy"] < min_accuracy:
        sys.exit(1)


def _echo_urgent(urgent: dict) -> None:
    """Danger answered (recall) and false alarms, per language: a miss is worse than a false alarm."""
    def share(value):
        return "   -  " if value is None else f"{value:.3f}"

    click.echo(f"urgent (threshold {urgent['threshold']}): recall {share(urgent['recall'])} "
               f"({urgent['caught']}/{urgent['urgent']}), false alarms {share(urgent['false_alarm_rate'])} "
               f"({urgent['false_alarms']}/{urgent['others']})")
    for language, row in urgent["per_language"].items():
        click.echo(f"  {language:<4}recall {share(row['recall'])} ({row['caught']}/{row['urgent']})  "
                   f"false alarms {share(row['false_alarm_rate'])} ({row['false_alarms']}/{row['others']})")
