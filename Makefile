# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup system-deps run test lint typecheck layers pytest clean

$(STAMP): pyproject.toml scripts/build-pjsua2.sh scripts/pjproject-recipe.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	bash scripts/build-pjsua2.sh $(VENV)
	touch $(STAMP)

setup: system-deps
	$(MAKE) $(STAMP)

system-deps:
	@bash scripts/install-system-deps.sh

run: setup
	$(BIN)/ivr check flows/
	@echo "serving flows/: call sip:95500@127.0.0.1:5060 (UDP or TCP) with sipp or any softphone;" \
	      "health at http://127.0.0.1:8080/health (Ctrl-C stops it gracefully)"
	@echo "agent desktop: http://127.0.0.1:8080/desktop/ -- demo logins 8001 / demo-8001 (Alice)," \
	      "8002 / demo-8002 (Bob); their phones (config/agents.yaml): sip:8001@127.0.0.1:5071," \
	      "sip:8002@127.0.0.1:5072, e.g. sipp -sn uas -rtp_echo -i 127.0.0.1 -p 5071 (docs/cti.md)"
	$(BIN)/ivr serve --flows flows --data-dir var

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

layers: $(STAMP)
	$(BIN)/lint-imports

pytest: $(STAMP)
	$(BIN)/pytest

test: setup lint typecheck layers pytest

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache
