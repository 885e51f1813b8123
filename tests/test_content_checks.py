"""`flask content check` reads like a guide (issue 21 point 5): one message per problem, never one
per language, in file and line order, with the fix in plain words; the YAML mistakes PyYAML hides
(a key written twice) or explains in parser words (a tab) are reported by name."""
from __future__ import annotations

import re

from bot.yaml_source import in_order, load_text
from tests.test_referrals import content, edit, line_of  # noqa: F401  (the content fixture)


def problems(runner) -> list[str]:
    result = runner.invoke(args=["content", "check"])
    assert result.exit_code == 1, result.output
    return [line for line in result.output.splitlines() if re.match(r"^/.*:\d+: ", line)]


def test_a_key_written_twice_is_named_with_both_lines(runner, content):  # noqa: F811
    path = content / "regions" / "testtown.yml"
    edit(path, "  phone: +31 20 555 0101\n", "  phone: +31 20 555 0101\n  phone: +31 20 555 0109\n")
    found = problems(runner)
    first = line_of(path, "phone: +31 20 555 0101")
    assert found == [f"{path}:{first + 1}: the key 'phone' is written twice in the same place (first on line "
                     f"{first}): keep one of them and delete the other, or rename it"]


def test_a_tab_is_reported_on_its_line_with_the_fix(runner, content):  # noqa: F811
    path = content / "regions" / "testtown.yml"
    edit(path, "  category: food", "\tcategory: food")
    found = problems(runner)
    assert found == [f"{path}:{line_of(path, 'category: food')}: there is a tab character on this line; YAML files "
                     "may only be indented with spaces: replace the tab with spaces (as many as the lines around it)"]
    assert "cannot start any token" not in "\n".join(found)


def test_a_national_phone_number_asks_for_the_international_format(runner, content):  # noqa: F811
    path = content / "regions" / "testtown.yml"
    edit(path, "phone: +31 20 555 0103", "phone: 020 555 0103")
    assert problems(runner) == [
        f"{path}:{line_of(path, 'phone: 020 555 0103')}: offer doc_03: '020 555 0103' is not a phone number in "
        "international format: write it with + and the country code, like +31 20 555 0142"]


def test_a_too_long_title_is_reported_once_not_per_language(runner, content):  # noqa: F811
    path = content / "regions" / "testtown.yml"
    edit(path, "name: Practice 02\n", "name: Practice 02\n  title: General practice in the old town\n")
    assert problems(runner) == [f"{path}:{line_of(path, 'title: General')}: offer doc_02: 'title' has 32 "
                                "characters; at most 24 fit: shorten it"]


def test_a_text_too_long_in_some_languages_is_one_message_naming_them(runner, content):  # noqa: F811
    path = content / "categories.yml"
    edit(path, "  nl: Doctor (GP) (nl)", "  nl: Huisarts, ook voor mensen zonder papieren")
    edit(path, "  ar: Doctor (GP) (ar)", "  ar: طبيب عام للجميع، مع أوراق أو بدونها")
    found = problems(runner)
    assert len(found) == 1, found
    assert "category health, subcategory doctor: 'name' is too long in ar, nl (ar 35, nl 41 characters); " \
           "at most 24 fit: shorten it there" in found[0]


def test_several_problems_come_in_file_and_line_order(runner, content):  # noqa: F811
    path = content / "regions" / "testtown.yml"
    for number in (12, 3, 10):
        edit(path, f"phone: +31 20 555 01{number:02d}", f"phone: 0{number}")
    edit(content / "categories.yml", "- id: food", "- id: health")
    found = problems(runner)
    lines = [(text.split(":")[0], int(text.split(":")[1])) for text in found]
    assert lines == sorted(lines) and len(found) == 5  # the soup kitchen lost its category too
    assert found[0].startswith(f"{content / 'categories.yml'}:") and "defined twice: give one of them another id" \
        in found[0]


def test_the_order_is_by_number_and_each_problem_once():
    assert in_order(["a.yml:10: x", "a.yml:9: y", "a.yml:10: x", "A.yml:1: z"]) == \
        ["A.yml:1: z", "a.yml:9: y", "a.yml:10: x"]


def test_a_tab_inside_a_quoted_text_is_fine():
    data, found = load_text("f.yml", 'name: "a\tb"\n')
    assert found == [] and data["name"] == "a\tb"
