#!/usr/bin/env bash
# Sets up a fresh machine for the tests: the system's Chromium (browser tests) and Jupyter's nbconvert
# (notebooks) from apt when they are missing (Debian/Ubuntu, as root or with sudo), then `npm ci`.
set -uo pipefail
cd "$(dirname "$0")/.."

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
{ command -v jupyter && jupyter nbconvert --version; } >/dev/null 2>&1 || missing+=(jupyter-nbconvert python3-ipykernel)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]} with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  { $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" \
    || { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; } >/tmp/setup-apt.log 2>&1 \
    || { echo "setup: could not install ${missing[*]} (apt-get install -y ${missing[*]}):"; tail -n 20 /tmp/setup-apt.log; }
fi

npm ci --no-audit --no-fund
