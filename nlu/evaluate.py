"""Intent evaluation on held-out files, in the shape Rasa's `rasa test nlu` reports."""
from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from sklearn.metrics import precision_recall_fscore_support

from nlu.training_data import TrainingData, read_nlu_file


def read_test_files(paths: list[Path]) -> TrainingData:
    data = TrainingData()
    for path in paths:
        files = sorted(path.glob("*.yml")) if path.is_dir() else [path]
        for file in files:
            read_nlu_file(file, into=data)
    return data


URGENT = "urgent"


def urgent_likelihood(result: dict) -> float:
    """How likely the message speaks of danger: what the bot compares with nlu.urgent_threshold."""
    if not result.get("knows_a_word", True):
        return 0.0
    ranked = {r["name"]: float(r["confidence"]) for r in result.get("intent_ranking") or []}
    if result["intent"]["name"] == URGENT:
        return max(ranked.get(URGENT, 0.0), float(result["intent"]["confidence"]))
    return ranked.get(URGENT, 0.0)


def evaluate(parse, data: TrainingData, urgent_threshold: float | None = None) -> dict:
    """`parse(text)` returns a ParseResult dict; the result is Rasa's intent_evaluation, with
    accuracy per language added, and with `urgent_threshold` the bot's danger answer per
    language: the share of urgent messages it catches (recall) and the other messages it
    takes for danger (false alarms)."""
    predictions: list[dict] = []
    per_language: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    alarms: defaultdict[str, dict[str, int]] = defaultdict(
        lambda: {"caught": 0, "urgent": 0, "false_alarms": 0, "others": 0})
    for example in data.examples:
        result = parse(example.text)
        predicted = result["intent"]["name"]
        predictions.append({"text": example.text, "intent": example.intent, "predicted": predicted,
                            "confidence": round(float(result["intent"]["confidence"]), 4),
                            "language": example.language})
        per_language[example.language][0] += predicted == example.intent
        per_language[example.language][1] += 1
        if urgent_threshold is not None:
            alarm = urgent_likelihood(result) >= urgent_threshold
            row = alarms[example.language]
            if example.intent == URGENT:
                row["urgent"] += 1
                row["caught"] += alarm
            else:
                row["others"] += 1
                row["false_alarms"] += alarm
                if alarm:
                    predictions[-1]["false_alarm"] = True
            if example.intent == URGENT and not alarm:
                predictions[-1]["missed_danger"] = True
    truth = [p["intent"] for p in predictions]
    guessed = [p["predicted"] for p in predictions]
    precision, recall, f1, _ = precision_recall_fscore_support(truth, guessed, average="weighted", zero_division=0)
    correct = sum(t == g for t, g in zip(truth, guessed, strict=True))
    return {"intent_evaluation": {
        "accuracy": round(correct / len(truth), 4) if truth else 0.0,
        "precision": round(float(precision), 4), "f1_score": round(float(f1), 4),
        "per_language": {language: {"accuracy": round(right / total, 4), "total": total}
                         for language, (right, total) in sorted(per_language.items())},
        "predictions": predictions,
    } | ({"urgent": _urgent_report(alarms, urgent_threshold)} if urgent_threshold is not None else {})}


def _urgent_report(alarms: dict, threshold: float) -> dict:
    def rates(row: dict) -> dict:
        return row | {"recall": round(row["caught"] / row["urgent"], 4) if row["urgent"] else None,
                      "false_alarm_rate": round(row["false_alarms"] / row["others"], 4) if row["others"] else None}

    total = {key: sum(row[key] for row in alarms.values()) for key in ("caught", "urgent", "false_alarms", "others")}
    return {"threshold": threshold, **rates(total),
            "per_language": {language: rates(row) for language, row in sorted(alarms.items())}}
