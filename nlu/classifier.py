"""The embedded intent classifier: character and word n-grams, a linear model, calibrated
confidences. Trained on every language's examples together, so a message that mixes
languages still finds its intent.

Models are cached on disk by a hash of the training data, so a change to nlu/data/ means
a new model at the next start, and an unchanged one loads in a tenth of a second (pickle, not
joblib: joblib reads it in pure Python, twenty times slower).
"""
from __future__ import annotations

import hashlib
import logging
import os
import pickle
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import sparse
from scipy.special import expit
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import make_pipeline, make_union
from sklearn.svm import LinearSVC

from nlu.normalise import normalise
from nlu.politeness import SOCIAL, Politeness
from nlu.training_data import TrainingData, read_folder

log = logging.getLogger(__name__)
ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "nlu" / "data"
CACHE = ROOT / "var" / "nlu"
MODEL_VERSION = "4"  # bump when the pipeline below changes, so cached models are retrained


@dataclass
class Prediction:
    intent: str
    confidence: float
    ranking: list[tuple[str, float]] = field(default_factory=list)
    knows_a_word: bool = True  # False: judged on letter groups alone


def data_fingerprint(folder: Path = DATA) -> str:
    digest = hashlib.sha256(MODEL_VERSION.encode())
    for path in sorted(folder.glob("*.yml")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


UNKNOWN_WORDS_CONFIDENCE = 0.45
REQUEST_CONFIDENCE = 0.5  # a request found under the politeness wins from here (config's usual threshold)


def build_pipeline():
    features = make_union(
        TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 5), sublinear_tf=True, min_df=1),
        TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True, token_pattern=r"(?u)\b\w+\b"),
    )
    return make_pipeline(features, CalibratedClassifierCV(LinearSVC(C=1.0), cv=3, method="sigmoid", ensemble=False))


class Probabilities:
    """The calibrated model's probabilities in a few array operations, from its fitted parameters.

    The features are the vectorizers' outputs side by side, the linear model's score for each
    intent is a product with its coefficients, and with sigmoid calibration each intent's
    probability is a logistic function of its score, normalised over the intents. Through the
    pipeline, scikit-learn checked its input again at every step and once per intent, and
    joined the features through a parallel-jobs wrapper: more than half of what understanding a
    message cost a worker. `tests/test_nlu.py` holds this equal to the pipeline's `predict_proba`."""

    def __init__(self, pipeline):
        union, calibrated = pipeline[0], pipeline[-1]
        (fitted,) = calibrated.calibrated_classifiers_  # ensemble=False: one model, one calibrator per intent
        if len(pipeline) != 2 or union.transformer_weights is not None or fitted.method != "sigmoid":
            raise ValueError("the fast path knows build_pipeline's shape only (one model, sigmoid calibration)")
        self.vectorizers = [vectorizer for _, vectorizer in union.transformer_list]
        model = fitted.estimator
        self.count = len(fitted.classes)
        # Two intents: one score and one calibrator, for the second intent; otherwise one per intent.
        self.columns = [1] if self.count == 2 else np.searchsorted(fitted.classes, model.classes_)
        self.coefficients = model.coef_.T
        self.intercept = model.intercept_
        self.slope = np.array([calibrator.a_ for calibrator in fitted.calibrators])
        self.offset = np.array([calibrator.b_ for calibrator in fitted.calibrators])

    def __call__(self, texts: list[str]) -> np.ndarray:
        features = sparse.hstack([vectorizer.transform(texts) for vectorizer in self.vectorizers]).tocsr()
        scores = features @ self.coefficients + self.intercept
        probabilities = np.zeros((len(texts), self.count))
        probabilities[:, self.columns] = expit(-(self.slope * scores + self.offset))
        if self.count == 2:
            probabilities[:, 0] = 1.0 - probabilities[:, 1]
            return probabilities
        total = probabilities.sum(axis=1, keepdims=True)
        uniform = np.full_like(probabilities, 1 / self.count)
        return np.divide(probabilities, total, out=uniform, where=total != 0)


class IntentClassifier:
    def __init__(self, pipeline, fingerprint: str, politeness: Politeness | None = None):
        self.pipeline = pipeline
        self.probabilities = Probabilities(pipeline)
        self.fingerprint = fingerprint
        self.intents = list(pipeline.classes_)
        self.politeness = politeness or Politeness(())

    @classmethod
    def train(cls, data: TrainingData, fingerprint: str) -> IntentClassifier:
        pipeline = build_pipeline()
        pipeline.fit([normalise(e.text) for e in data.examples], [e.intent for e in data.examples])
        return cls(pipeline, fingerprint, politeness_of(data))

    def predict(self, text: str, top: int = 5) -> Prediction:
        """The request wins over the greeting or thanks around it (nlu/politeness.py): when the
        whole message reads as social or unsure, its parts without the politeness are judged too
        (in the same call), and the surest request among them is the answer if it is surer than
        the whole message. A part is a few words out of context: what is left of "cheers mate"
        ("mate", which the Spanish "me mate" makes look like danger) must not outweigh a whole
        message the classifier reads confidently as thanks."""
        normalised = normalise(text)
        parts = self.politeness.requests(normalised)
        whole, *judged = self._predict([normalised, *parts], top)
        if whole.intent not in SOCIAL and whole.confidence >= REQUEST_CONFIDENCE:
            return whole
        requests = [p for p in judged if p.intent not in SOCIAL]
        best = max(requests, key=lambda p: p.confidence, default=None)
        if best is not None and best.confidence > whole.confidence:
            return best
        return whole

    def _predict(self, texts: list[str], top: int) -> list[Prediction]:
        """A message without a single word the training data knows is judged on letter groups
        alone, which can look sure of nonsense ("blorp" as health care): its confidence is
        capped below acting, so the bot asks "did you mean" rather than acting on a guess."""
        predictions = []
        for normalised, probabilities in zip(texts, self.probabilities(texts), strict=True):
            ranked = sorted(zip(self.intents, probabilities, strict=True), key=lambda pair: -pair[1])[:top]
            ranking = [(str(intent), round(float(p), 4)) for intent, p in ranked]
            confidence = ranking[0][1]
            known = self._knows_a_word(normalised)
            if not known:
                confidence = min(confidence, UNKNOWN_WORDS_CONFIDENCE)
            predictions.append(Prediction(intent=ranking[0][0], confidence=confidence, ranking=ranking,
                                          knows_a_word=known))
        return predictions

    def _knows_a_word(self, normalised: str) -> bool:
        """Emoji and signs alone are not words: their symbols are what the data knows (🙏 is thanks)."""
        words = self.pipeline.steps[0][1].transformer_list[1][1]
        tokens = words.build_tokenizer()(normalised)
        return not tokens or any(word in words.vocabulary_ for word in tokens)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")  # two processes may train at once
        with temporary.open("wb") as file:
            pickle.dump(self.pipeline, file, protocol=pickle.HIGHEST_PROTOCOL)
        temporary.replace(path)


def politeness_of(data: TrainingData) -> Politeness:
    return Politeness(normalise(e.text) for e in data.examples if e.intent in SOCIAL)


_loaded: dict[str, IntentClassifier] = {}
_lock = threading.Lock()


def load_or_train(folder: Path = DATA, cache: Path = CACHE, *, force: bool = False) -> IntentClassifier:
    """The classifier for the data as it is now: from memory, from the disk cache, or trained."""
    fingerprint = data_fingerprint(folder)
    with _lock:
        if not force and fingerprint in _loaded:
            return _loaded[fingerprint]
        path = cache / f"intents-{fingerprint}.pickle"
        if path.exists() and not force:
            with path.open("rb") as file:
                pipeline = pickle.load(file)  # a file this service wrote, like any cache of its own
            classifier = IntentClassifier(pipeline, fingerprint, politeness_of(read_folder(folder)))
        else:
            log.info("training the intent classifier (data %s)", fingerprint)
            classifier = IntentClassifier.train(read_folder(folder), fingerprint)
            classifier.save(path)
        _loaded[fingerprint] = classifier
        return classifier
