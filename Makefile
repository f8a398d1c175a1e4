# The two commands a newcomer needs: `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BANK := tenants/bank_cards
BANK_STAMP := $(VENV)/.bank-cards

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

# The bank tenant is installed as a wheel (not editable), as a tenant ships it; reinstalled
# whenever its sources change.
$(BANK_STAMP): $(STAMP) $(shell find $(BANK)/pyproject.toml $(BANK)/src -type f -not -path '*/__pycache__/*' -not -path '*.egg-info/*')
	$(BIN)/pip install -q --force-reinstall --no-deps ./$(BANK)
	touch $(BANK_STAMP)

setup: system-deps
	$(MAKE) $(STAMP) $(BANK_STAMP) $(EDITOR_BUNDLE)

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
	$(BIN)/ivr check hosting.yaml
	@echo "serving hosting.yaml: three tenants on SIP 127.0.0.1:5060 (UDP or TCP):" \
	      "sip:95500@ the brokerage, sip:96688@ the bank's card hotline (its own installed wheel)," \
	      "sip:40066@ the fund company; health at http://127.0.0.1:8080/health (Ctrl-C stops it)"
	@echo "agent desktops: http://127.0.0.1:8080/tenants/brokerage/desktop/ (8001 / demo-8001," \
	      "8002 / demo-8002; phones sip:8001@127.0.0.1:5071, sip:8002@127.0.0.1:5072) and" \
	      "http://127.0.0.1:8080/tenants/bank/desktop/ (9001 / demo-9001; phone sip:9001@127.0.0.1:5073)," \
	      "e.g. sipp -sn uas -rtp_echo -i 127.0.0.1 -p 5071 (docs/cti.md); API tokens in hosting.yaml"
	@echo "flow editor: http://127.0.0.1:8080/editor/ (li.na / demo-li.na for the brokerage," \
	      "fund.ops / demo-fund.ops, bank.ops / demo-bank.ops; config/editors.yaml): publish and the next call hears it"
	@mkdir -p var
	$(BIN)/bank-card-service --port 8710 --db var/bank-cards.sqlite3 & card=$$!; \
	  trap 'kill $$card 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/ivr serve --hosting hosting.yaml --data-dir var --editor-accounts config/editors.yaml

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy
	$(BIN)/mypy tenants/fund/module.py

layers: $(STAMP)
	$(BIN)/lint-imports

# Two xdist workers for most tests, then the load and timing tests alone in one process,
# so the other worker's load never decides their figures.
pytest: $(STAMP)
	$(BIN)/pytest -m "not alone"
	$(BIN)/pytest -m alone -n 0

test: setup lint typecheck layers pytest

clean:
	rm -rf $(VENV) build .mypy_cache .ruff_cache editor/static/build $(EDITOR_WEB)/node_modules
