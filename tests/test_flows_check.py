"""`flask flows check` and reloads: a broken flow is reported with file:line and never goes live."""
import shutil
from pathlib import Path

import pytest

from settings import ROOT


@pytest.fixture
def flows(tmp_path, runtime):
    folder = tmp_path / "flows"
    shutil.copytree(ROOT / "flows", folder, ignore=shutil.ignore_patterns("*.md"))
    runtime.settings.content.flows = folder
    return folder


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if needle in line)


def test_shipped_flows_are_valid(runner):
    result = runner.invoke(args=["flows", "check"])
    assert result.exit_code == 0, result.output
    assert "all valid" in result.output


@pytest.mark.parametrize("file, old, new, problem", [
    ("stop.yml", "next: told", "next: tolld", "next goes to unknown step 'tolld'"),
    ("main.yml", 'goto: "@human"', 'goto: "@humans"', "option goes to unknown flow 'humans'"),
    ("start.yml", 'next: "@main"', 'next: "@main.nowhere"', "unknown step 'nowhere' of flow 'main'"),
    ("stop.yml", "action: opt_out", "action: opt_outt", "unknown action 'opt_outt'"),
    ("stop.yml", 'say: "You will not get any more messages',
     'say: "This text was never translated. You will not get any more messages',
             "text not in the translation catalogs"),
    ("stop.yml", "    say: \"You will", "    sya: \"You will", "must have exactly one of"),
    ("human.yml", "intents: [human]", "intents: [humane]", "unknown intent 'humane'"),
    ("stop.yml", "flow: stop", "flow: [stop", "not valid YAML"),
])
def test_each_mistake_is_reported_with_file_and_line(runner, flows, file, old, new, problem):
    edit(flows / file, old, new)
    result = runner.invoke(args=["flows", "check"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if problem in line]
    assert lines, result.output
    location = lines[0].split(": ", 1)[0]
    assert location.startswith(str(flows / file) + ":")
    assert int(location.rsplit(":", 1)[1]) >= 1


def test_problem_points_at_the_right_line(runner, flows):
    edit(flows / "stop.yml", "next: told", "next: tolld")
    result = runner.invoke(args=["flows", "check"])
    assert f"stop.yml:{line_of(flows / 'stop.yml', 'next: tolld')}: " in result.output


def test_keyword_claimed_by_two_flows_is_refused(runner, flows):
    edit(flows / "start.yml", "keywords: [start,", "keywords: [stop, start,")
    result = runner.invoke(args=["flows", "check"])
    assert result.exit_code == 1
    assert "keyword 'stop' also starts flow" in result.output


def test_a_broken_draft_is_not_published_and_the_live_release_stays(runner, runtime, flows, whatsapp):
    edit(flows / "main.yml", 'goto: "@human"', 'goto: "@nowhere"')
    result = runner.invoke(args=["flows", "publish"])
    assert result.exit_code == 1
    assert "option goes to unknown flow 'nowhere'" in result.output
    assert "nothing was published: people keep getting release 1" in result.output
    whatsapp.send("hello")
    whatsapp.send("2")  # English
    assert whatsapp.conversation("2")[-1].startswith("I have asked a person")


def test_saved_files_are_a_draft_until_published(runner, runtime, flows, whatsapp):
    whatsapp.send("hello")
    whatsapp.send("2")  # English
    edit(flows / "main.yml", '      - label: "Talk to a person"\n        goto: "@human"\n', "")
    assert whatsapp.conversation("2")[-1].startswith("I have asked a person")  # the files are not live
    result = runner.invoke(args=["flows", "publish", "--note", "no person in the menu"])
    assert result.exit_code == 0, result.output
    assert "Published release 2" in result.output
    whatsapp.send("hello", phone="+31600000002")
    menu = whatsapp.conversation("2", phone="+31600000002")[-1]
    assert "Register for the program\n- Change language" in menu  # the second row now


def test_invalid_files_stop_a_first_start_with_the_problems(flows, monkeypatch, tmp_path):
    from store.migrate import upgrade
    from webhook import create_app

    edit(flows / "stop.yml", "next: told", "next: tolld")
    url = f"sqlite:///{tmp_path / 'first.sqlite3'}"
    upgrade(url)
    monkeypatch.setenv("DATABASE_URL", url)
    config = flows.parent / "config.yml"
    config.write_text((ROOT / "config.yml").read_text().replace("flows: flows", f"flows: {flows}"))
    monkeypatch.setenv("DDA_CONFIG", str(config))
    with pytest.raises(SystemExit) as stopped:
        create_app(embedded_worker=False)
    assert "Flows are invalid" in str(stopped.value)
    assert "unknown step 'tolld'" in str(stopped.value)


# -- WhatsApp's limits, per language --------------------------------------------------------
def test_a_label_too_long_for_a_button_in_english_asks_for_a_short_label(runner, flows):
    edit(flows / "delete_data.yml", '        short: "Yes, delete all"\n', "")
    result = runner.invoke(args=["flows", "check"])
    assert result.exit_code == 1
    line = line_of(flows / "delete_data.yml", 'label: "Yes, delete everything"')
    problem = next(p for p in result.output.splitlines() if f"delete_data.yml:{line}: " in p)
    assert "[en, so] button title longer than 20 characters: en (22) 'Yes, delete everything', so (" in problem
    assert problem.endswith("; give the option a 'short:' label")


def test_a_translation_too_long_for_a_button_names_its_language(runner, flows):
    """"Find help near you" fits a button in English (18 characters), not in seven other languages."""
    edit(flows / "delete_data.yml", 'short: "Yes, delete all"', 'short: "Find help near you"')
    result = runner.invoke(args=["flows", "check"])
    assert result.exit_code == 1
    line = line_of(flows / "delete_data.yml", 'short: "Find help near you"') - 1  # the option starts at its label
    problems = [p for p in result.output.splitlines() if f"delete_data.yml:{line}: " in p]
    assert len(problems) == 1, problems  # one problem, naming its languages
    assert "[fr, id, nl, tl, uk, so, tr] button title longer than 20 characters: fr (22) 'Aide près de chez vous'," \
        in problems[0]
    assert problems[0].endswith("; shorten the translation of 'short'")


def test_a_list_row_and_a_menu_text_have_their_own_limits(runner, flows):
    edit(flows / "main.yml", '      - label: "My vouchers"\n',
         '      - verbatim: "My vouchers and everything about them"\n')
    edit(flows / "delete_data.yml", "We cannot undo it.", "We cannot undo it. " + "Really. " * 130)
    result = runner.invoke(args=["flows", "check"])
    assert result.exit_code == 1
    at = f"main.yml:{line_of(flows / 'main.yml', 'My vouchers and')}: "
    problem = next(p for p in result.output.splitlines() if at in p)  # one problem for all languages
    assert problem.endswith("list row title longer than 24 characters (37): 'My vouchers and everything about them'; "
                            "shorten it") and " en, " in problem
    assert "the menu text is longer than WhatsApp shows above buttons or a list (1024 characters)" in result.output


def test_a_menu_of_more_than_ten_stays_numbered_text_and_is_not_limited(runner, flows):
    result = runner.invoke(args=["flows", "check"])
    assert result.exit_code == 0 and "language.yml" not in result.output  # fifteen languages, each its own name


# -- checks read like a guide ---------------------------------------------------------------
def test_a_key_written_twice_and_a_tab_are_named_with_the_fix_in_file_and_line_order(runner, flows):
    edit(flows / "stop.yml", "    next: told\n", "    next: told\n    next: opt_out\n")
    edit(flows / "human.yml", "steps:\n", "steps:\n\t\n", )
    result = runner.invoke(args=["flows", "check"])
    assert result.exit_code == 1
    problems = [line for line in result.output.splitlines() if ".yml:" in line]
    assert any(f"stop.yml:{line_of(flows / 'stop.yml', 'next: opt_out')}: the key 'next' is written twice" in p
               and "keep one of them" in p for p in problems), problems
    assert any("human.yml:" in p and "there is a tab character on this line" in p and "replace the tab with spaces"
               in p for p in problems), problems
    assert problems.index(next(p for p in problems if "human.yml:" in p)) < \
        problems.index(next(p for p in problems if "stop.yml:" in p))  # file by file, in order


def test_an_unknown_step_says_which_steps_there_are(runner, flows):
    edit(flows / "stop.yml", "next: told", "next: tolld")
    result = runner.invoke(args=["flows", "check"])
    assert "next goes to unknown step 'tolld'; write one of this flow's steps (opt_out, told)" in result.output
