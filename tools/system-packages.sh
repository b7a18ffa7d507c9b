#!/usr/bin/env bash
# Installs the Debian packages the tests and the grader need, if they are missing:
#   chromium   - the browser the end-to-end tests drive (never a downloaded browser build)
#   bubblewrap - the sandbox for running student code (autograder/sandbox.py)
#   postgresql - a database server for the test that keeps the gradebook in PostgreSQL
#   nodejs npm - to install configurable-http-proxy, the proxy JupyterHub starts (tests/test_jupyterhub.py);
#                npm installs it system-wide (npm install -g: /usr/local/bin with Debian's npm), where the hub,
#                which runs as root, finds it on PATH as it does on a course server (README.md, JupyterHub steps)
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || missing+=(postgresql)
if ! command -v configurable-http-proxy >/dev/null 2>&1; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

install_proxy() {  # from the npm registry, once node and npm are there
  if ! command -v configurable-http-proxy >/dev/null 2>&1; then
    echo "Installing configurable-http-proxy (npm install -g)"
    "${run[@]}" npm install -g --no-fund --no-audit configurable-http-proxy@5 >/dev/null
  fi
  configurable-http-proxy --version >/dev/null || {
    echo "configurable-http-proxy is installed but does not run (node $(node --version)): see the errors above" >&2
    exit 1
  }
}

if [ ${#missing[@]} -eq 0 ]; then
  run=()
  [ "$(id -u)" -eq 0 ] || run=(sudo)
  install_proxy
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  run=()
elif command -v sudo >/dev/null 2>&1; then
  run=(sudo)
else
  echo "Missing system packages: ${missing[*]}. Install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "Missing system packages: ${missing[*]}, and this is not a Debian-like system (no apt-get)." >&2
  echo "Install the equivalents with your package manager, then run this again." >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${run[@]}" apt-get update -qq
"${run[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
install_proxy
