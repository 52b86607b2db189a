#!/bin/sh
# The Deno Jupyter kernel of this repository: runs the Deno binary of the `deno` npm package
# (a devDependency, installed by `npm ci`) from this clone's node_modules, so nothing is installed
# into the user's home. Jupyter calls it as `sh kernel.sh CONNECTION_FILE` (see kernel.json).
# Deno's cache goes to <repo>/.deno (gitignored) unless DENO_DIR is set. The kernel reads
# <repo>/deno.json (found from the notebook's directory), which maps the sources' NodeNext `.js`
# imports to their `.ts` files ("sloppy imports") and resolves npm packages from node_modules.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
nm="$root/node_modules"

deno=""
# The npm package's postinstall links the binary into node_modules/deno/; without install scripts,
# it stays in the platform package @deno/<os>-<arch>[-glibc].
for candidate in "$nm/deno/deno" "$nm"/@deno/*/deno; do
  if [ -x "$candidate" ] && [ -f "$candidate" ]; then deno="$candidate"; break; fi
done
if [ -z "$deno" ]; then
  echo "tsgrad-vae Deno kernel: no Deno binary under $nm; run \`npm ci\` in $root" >&2
  exit 1
fi

if [ "${1:-}" = "--version" ]; then exec "$deno" --version; fi  # used by scripts/notebooks.sh as a check
[ $# -eq 1 ] || { echo "usage: sh kernel.sh CONNECTION_FILE (or --version)" >&2; exit 2; }

export DENO_DIR="${DENO_DIR:-$root/.deno}"
export DENO_NO_UPDATE_CHECK=1
export DENO_NO_PROMPT=1
exec "$deno" jupyter --kernel --conn "$1"
