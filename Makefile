# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

EDITOR_WEB := editor/web
EDITOR_MODULES := $(EDITOR_WEB)/node_modules/.installed
EDITOR_BUNDLE := editor/static/build/editor.js

.PHONY: setup system-deps editor-assets run test lint typecheck layers pytest clean

$(STAMP): pyproject.toml scripts/build-pjsua2.sh scripts/pjproject-recipe.sh
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	bash scripts/build-pjsua2.sh $(VENV)
	touch $(STAMP)

setup: system-deps
	$(MAKE) $(STAMP) $(EDITOR_BUNDLE)

# The flow editor's front end (CodeMirror 6), built from the npm registry with the lockfile.
$(EDITOR_MODULES): $(EDITOR_WEB)/package.json $(EDITOR_WEB)/package-lock.json
	cd $(EDITOR_WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(EDITOR_BUNDLE): $(EDITOR_MODULES) $(EDITOR_WEB)/build.mjs $(wildcard $(EDITOR_WEB)/src/*.js)
	node $(EDITOR_WEB)/build.mjs

editor-assets: $(EDITOR_BUNDLE)

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
	rm -rf $(VENV) build .mypy_cache .ruff_cache editor/static/build $(EDITOR_WEB)/node_modules
