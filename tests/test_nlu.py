"""Intent understanding: Rasa-format data, the embedded classifier, the CLI and a Rasa server."""
import json
import logging
import threading
import time

import pytest
from flask import Flask, request
from werkzeug.serving import make_server

from nlu.training_data import TrainingDataError, read_folder, read_nlu_file, strip_markup
from settings import ROOT

DATA = ROOT / "nlu" / "data"
PROGRAM = ["ar", "en", "es", "fr", "id", "nl", "pt", "tl", "uk"]


def test_every_language_has_examples_for_every_intent():
    from nlu.intents import INTENTS

    data = read_folder(DATA)
    for language in PROGRAM + ["fa", "ti", "so", "tr", "ru", "am"]:
        covered = {e.intent for e in data.examples if e.language == language}
        assert covered == set(INTENTS), (language, set(INTENTS) - covered)


def test_entity_markup_synonyms_and_lookups_are_parsed(tmp_path):
    path = tmp_path / "en.yml"
    path.write_text('version: "3.1"\nnlu:\n- intent: referral_health\n  examples: |\n'
                    '    - I need a [dentist](care_type) in [Utrecht]{"entity": "city"}\n'
                    '- synonym: doctor\n  examples: |\n    - huisarts\n'
                    '- lookup: city\n  examples: |\n    - Amsterdam\n'
                    '- regex: zipcode\n  examples: |\n    - \\d{4}[A-Z]{2}\n')
    data = read_nlu_file(path)
    example = data.examples[0]
    assert example.text == "I need a dentist in Utrecht"
    assert example.entities == (("care_type", "dentist", 9, 16), ("city", "Utrecht", 20, 27))
    assert data.synonyms == {"huisarts": "doctor"}
    assert data.lookups == {"city": ["Amsterdam"]}


def test_markup_without_entities_is_left_alone():
    assert strip_markup("no [markup here") == ("no [markup here", ())


def test_broken_training_file_is_a_clear_error(tmp_path):
    path = tmp_path / "xx.yml"
    path.write_text("nlu:\n- intent: greet\n  examples: |\n    - hi\n- bogus: 1\n")
    with pytest.raises(TrainingDataError, match="xx.yml: item 2 is not an intent"):
        read_nlu_file(path)


@pytest.mark.parametrize("text, intent", [
    ("can i speak to a real person please", "human"),
    ("ik wil met een medewerker praten", "human"),
    ("je veux parler à quelqu'un", "human"),
    ("effacez toutes mes données s'il vous plaît", "delete_data"),
    ("بدي احكي مع شخص حقيقي", "human"),
    ("hapus semua data saya", "delete_data"),
    ("what's the weather tomorrow in Amsterdam", "out_of_scope"),
])
def test_messages_nobody_here_wrote_find_their_intent(runtime, text, intent):
    assert runtime.nlu.parse(text)["intent"]["name"] == intent


def test_parse_command_prints_rasas_parse_result_with_language(runner):
    result = runner.invoke(args=["nlu", "parse", "j'ai besoin d'un avocat à Amsterdam", "--json"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output)
    assert set(parsed) == {"text", "intent", "intent_ranking", "entities", "language"}
    assert parsed["intent"]["name"] == "referral_legal"
    assert 0 < parsed["intent"]["confidence"] <= 1
    assert parsed["intent_ranking"][0] == parsed["intent"]
    assert parsed["language"] == "fr"
    assert {"entity": "city", "value": "Amsterdam"}.items() <= parsed["entities"][0].items()


def test_evaluate_command_prints_rasas_evaluation_shape_per_language(runner, tmp_path):
    test_file = tmp_path / "nl.yml"
    test_file.write_text('version: "3.1"\nnlu:\n- intent: human\n  examples: |\n    - mag ik een echt mens\n'
                         '- intent: stop\n  examples: |\n    - stuur me niks meer aub\n')
    result = runner.invoke(args=["nlu", "evaluate", str(test_file), "--json"])
    assert result.exit_code == 0, result.output
    evaluation = json.loads(result.output)["intent_evaluation"]
    assert set(evaluation) >= {"accuracy", "predictions", "per_language"}
    assert {p["text"] for p in evaluation["predictions"]} == {"mag ik een echt mens", "stuur me niks meer aub"}
    assert set(evaluation["predictions"][0]) >= {"text", "intent", "predicted", "confidence"}
    assert evaluation["per_language"]["nl"]["total"] == 2


def test_held_out_accuracy_does_not_regress():
    """The goal (92 %) is tracked in `make bench`; this floor catches a broken classifier."""
    from nlu.classifier import load_or_train
    from nlu.evaluate import evaluate, read_test_files

    classifier = load_or_train()

    def parse(text):
        prediction = classifier.predict(text)
        return {"intent": {"name": prediction.intent, "confidence": prediction.confidence}}

    evaluation = evaluate(parse, read_test_files([ROOT / "nlu" / "tests"]))["intent_evaluation"]
    assert evaluation["accuracy"] >= 0.88
    assert all(row["accuracy"] >= 0.8 for row in evaluation["per_language"].values()), evaluation["per_language"]


def test_the_fast_probabilities_are_the_pipelines_own():
    """The classifier computes its probabilities from the fitted parameters (nlu/classifier.py
    `Probabilities`): for every held-out message, every training example and odd input alike
    they must be scikit-learn's `predict_proba`, to the last digit that matters."""
    import numpy as np

    from nlu.classifier import DATA, load_or_train
    from nlu.evaluate import read_test_files
    from nlu.normalise import normalise

    classifier = load_or_train()
    held_out = [example.text for example in read_test_files([ROOT / "nlu" / "tests"]).examples]
    texts = [normalise(text) for text in held_out + [e.text for e in read_folder(DATA).examples]]
    texts += ["", "?", "🙏🙏", "x" * 5000, "مرحبا hello ሰላም 123"]
    expected, fast = classifier.pipeline.predict_proba(texts), classifier.probabilities(texts)
    assert fast.shape == expected.shape
    assert np.allclose(fast, expected, rtol=0, atol=1e-12)
    assert (fast.argmax(axis=1) == expected.argmax(axis=1)).all()


def test_a_greeting_or_thanks_around_a_request_never_hides_it():
    """Messages written apart from the training data, each opening with a greeting or politeness
    ("hallo, ik wil me aanmelden", "salam bghit nsjl"): the bot acts on the request."""
    from nlu.classifier import REQUEST_CONFIDENCE, load_or_train
    from nlu.evaluate import read_test_files

    classifier = load_or_train()
    examples = read_test_files([ROOT / "nlu" / "tests" / "greeting_first"]).examples
    assert {e.language for e in examples} == set(PROGRAM) | {"fa", "ti", "so", "tr", "ru", "am"}
    predictions = [(e, classifier.predict(e.text)) for e in examples]
    missed = [(e.text, p.intent) for e, p in predictions if p.intent != e.intent or p.confidence < REQUEST_CONFIDENCE]
    assert len(missed) <= len(examples) * 0.05, missed
    for text in ("hallo, ik wil me aanmelden", "salam bghit nsjl", "hello, thanks, I need a doctor. thank you!"):
        assert classifier.predict(text).intent != "greet"


def test_what_the_service_cannot_do_rarely_starts_a_flow_even_in_words_nobody_trained_on():
    """nlu/tests/unseen_out_of_scope/ was written apart from the training data, in other topics and
    words; such a message must be recognised, or at least be too unsure to start a wrong flow."""
    from nlu.classifier import REQUEST_CONFIDENCE, load_or_train
    from nlu.evaluate import read_test_files

    classifier = load_or_train()
    examples = read_test_files([ROOT / "nlu" / "tests" / "unseen_out_of_scope"]).examples
    wrong = [e.text for e in examples if (p := classifier.predict(e.text)).intent != "out_of_scope"
             and p.confidence >= REQUEST_CONFIDENCE]
    assert len(wrong) <= len(examples) * 0.2, wrong
    for text in ("can you get me a residence permit", "how do i top up my credit"):
        assert classifier.predict(text).intent == "out_of_scope"


def test_danger_written_by_others_is_caught_and_fear_of_the_police_is_no_false_alarm(runtime):
    """nlu/tests/fresh/ was written after the model, the way people write (a greeting first, no
    punctuation, Darija in Latin letters), and never trained or tuned on: at the bot's threshold
    the danger in it is caught, and its safety questions, thanks and requests that mention police,
    fear or children rarely raise the alarm. Thanks with a nickname is no danger either."""
    from nlu.classifier import load_or_train
    from nlu.evaluate import evaluate, read_test_files, urgent_likelihood

    classifier = load_or_train()
    threshold = runtime.settings.nlu.urgent_threshold

    def parse(text):
        prediction = classifier.predict(text)
        return {"intent": {"name": prediction.intent, "confidence": prediction.confidence},
                "intent_ranking": [{"name": n, "confidence": c} for n, c in prediction.ranking],
                "knows_a_word": prediction.knows_a_word}

    fresh = read_test_files([ROOT / "nlu" / "tests" / "fresh"])
    danger = evaluate(parse, fresh, threshold)["intent_evaluation"]["urgent"]
    assert danger["recall"] >= 0.9 and danger["false_alarm_rate"] <= 0.05, danger
    for text in ("I'm scared the police will find me, is this safe?", "cheers mate", "merci ma belle"):
        assert urgent_likelihood(parse(text)) < threshold, (text, parse(text))


def test_training_is_cached_by_data_and_retrained_when_data_changes(tmp_path):
    from nlu.classifier import load_or_train

    data, cache = tmp_path / "data", tmp_path / "cache"
    data.mkdir()
    (data / "en.yml").write_text('nlu:\n- intent: greet\n  examples: |\n    - hello\n    - hi\n    - hey there\n'
                                 '- intent: stop\n  examples: |\n    - stop\n    - unsubscribe\n    - no more\n')
    first = load_or_train(data, cache)
    assert len(list(cache.glob("*.pickle"))) == 1
    assert load_or_train(data, cache) is first
    (data / "en.yml").write_text((data / "en.yml").read_text() + "    - quit\n")
    second = load_or_train(data, cache)
    assert second.fingerprint != first.fingerprint
    assert len(list(cache.glob("*.pickle"))) == 2
    texts = ["hello", "please stop", "", "🙏"]  # two intents: the fast probabilities' other case
    assert (second.probabilities(texts) == second.pipeline.predict_proba(texts)).all()


class RasaStandIn:
    """A local server answering POST /model/parse like the Rasa server spec."""

    def __init__(self):
        self.delay = 0.0
        self.status = 200
        self.seen = []
        app = Flask("rasa-stand-in")

        @app.post("/model/parse")
        def parse():
            self.seen.append((request.json, request.args.get("token")))
            time.sleep(self.delay)
            if self.status != 200:
                return {"version": "3.6", "status": "failure", "message": "boom", "code": self.status}, self.status
            return {"text": request.json["text"], "intent": {"name": "voucher_balance", "confidence": 0.93},
                    "intent_ranking": [{"name": "voucher_balance", "confidence": 0.93},
                                       {"name": "voucher_resend", "confidence": 0.04}], "entities": []}

        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def rasa(runtime):
    from nlu.service import NluService

    stand_in = RasaStandIn()
    settings = runtime.settings.model_copy(deep=True)
    settings.nlu.backend = "rasa"
    settings.nlu.rasa.url = stand_in.url
    settings.nlu.rasa.token = "rasa-token"
    settings.nlu.rasa.timeout_seconds = 0.5
    yield stand_in, NluService(settings)
    stand_in.server.shutdown()


def test_rasa_backend_is_asked_with_its_token(rasa):
    stand_in, service = rasa
    result = service.parse("how much is left")
    assert result["intent"] == {"name": "voucher_balance", "confidence": 0.93}
    assert stand_in.seen == [({"text": "how much is left"}, "rasa-token")]


@pytest.mark.parametrize("failure", ["error", "timeout"])
def test_rasa_failure_falls_back_to_the_embedded_classifier_and_logs(rasa, caplog, failure):
    stand_in, service = rasa
    if failure == "error":
        stand_in.status = 500
    else:
        stand_in.delay = 1.0
    with caplog.at_level(logging.WARNING):
        result = service.parse("can i speak to a real person please")
    assert result["intent"]["name"] == "human"
    assert "rasa parse failed" in caplog.text
    assert "real person" not in caplog.text


def test_rasa_setting_needs_a_url():
    from settings import SettingsError, load_settings
    from tests.conftest import ENVIRONMENT

    with pytest.raises(SettingsError, match="backend rasa needs nlu.rasa.url"):
        load_settings(environ=ENVIRONMENT, overrides={"nlu.backend": "rasa"})
