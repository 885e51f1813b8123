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


def evaluate(parse, data: TrainingData) -> dict:
    """`parse(text)` returns a ParseResult dict; the result is Rasa's intent_evaluation, with
    accuracy per language added."""
    predictions: list[dict] = []
    per_language: defaultdict[str, list[int]] = defaultdict(lambda: [0, 0])
    for example in data.examples:
        result = parse(example.text)
        predicted = result["intent"]["name"]
        predictions.append({"text": example.text, "intent": example.intent, "predicted": predicted,
                            "confidence": round(float(result["intent"]["confidence"]), 4),
                            "language": example.language})
        per_language[example.language][0] += predicted == example.intent
        per_language[example.language][1] += 1
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
    }}
