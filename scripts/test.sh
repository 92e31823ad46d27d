#!/usr/bin/env bash
# The full test suite: unit tests, integration tests that run the real daemon binary, and
# the interop test with the official MCP Python SDK (installed here into .venv if missing).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${IDE_AGENTS_TEST_PYTHON:-}" ] && ! .venv/bin/python -c "import mcp" 2>/dev/null; then
  echo "setting up .venv with the MCP Python SDK for the interop test" >&2
  python3 -m venv .venv
  .venv/bin/pip install --quiet --disable-pip-version-check -r tests/interop/requirements.txt
fi

cargo test --all-targets "$@"
