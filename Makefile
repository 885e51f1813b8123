# Direct Digital Aid — `make run` to try it, `make test` to check it.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask
PO     := $(wildcard translations/*/LC_MESSAGES/messages.po)
MO     := $(PO:.po=.mo)
# The suite waits on sockets and subprocesses as much as on the CPU: one worker more than cores.
TEST_WORKERS ?= $(shell expr $$(nproc) + 1)

.PHONY: install run test bench translations catalogs clean

install: $(VENV)/.installed .env $(MO)
	@chmod 600 .env

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check --upgrade pip==25.3 setuptools==80.9.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

# Secrets for this machine only: generated once, never committed (.gitignore).
.env:
	@umask 077 && $(PYTHON) -c "import secrets; print(f'SECRET_KEY={secrets.token_urlsafe(32)}'); print(f'DDA_ENCRYPTION_KEY={secrets.token_urlsafe(32)}')" > $@
	@echo "wrote .env with new SECRET_KEY and DDA_ENCRYPTION_KEY for this machine"

%.mo: %.po $(VENV)/.installed
	$(BIN)/pybabel compile -d translations -D messages -i $< -o $@ >/dev/null

run: install
	$(FLASK) db upgrade
	$(FLASK) seed demo
	@echo
	@echo "  Direct Digital Aid is starting on http://127.0.0.1:5000 (embedded: SQLite in var/, no Redis, no Twilio)."
	@echo "  Chat with the bot from another terminal:  $(FLASK) chat --as ana"
	@echo
	$(FLASK) run --host 127.0.0.1 --port 5000

# Lint and types first: a violation fails the run before the suite starts.
test: install
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist worksteal

bench: install
	$(BIN)/python -m bench

# After editing texts in flows or code: refresh the template and every catalog, then compile.
# A reworded text keeps each language's translation as fuzzy ("needs review"), with the old
# wording as `#| msgid`; the bot serves it until a reviewer accepts it (bot/i18n.py). Then
# `flask flows publish` makes the texts live.
translations: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -o translations/messages.pot --no-location --sort-output \
	    --add-comments=NOTE -k N_ --project="Direct Digital Aid" .
	$(BIN)/pybabel update -i translations/messages.pot -d translations -D messages --previous \
	    --ignore-obsolete
	$(MAKE) $(MO)

clean:
	rm -rf $(VENV) var $(MO)
