#!/usr/bin/env bash
# `npm run notebooks [-- [--check] examples/NAME.ipynb ...]`: executes the notebooks (default: every
# examples/*.ipynb) headlessly with the repository's Deno kernel (.jupyter/kernels/deno) and saves
# each one with its outputs in place (with --check, as CI runs it, the files are left alone). A
# notebook whose cell fails is left unchanged and counts as failed; the exit status is non-zero if
# any failed. The last line is "notebooks: N passed, M failed".
#
# Needs `jupyter nbconvert` (Debian/Ubuntu: apt-get install jupyter-nbconvert python3-ipykernel;
# elsewhere: pip install nbconvert) and `npm ci` (the deno npm package provides the kernel's binary).
# Nothing is read from or written to the home directory: JUPYTER_PATH points at .jupyter, Jupyter's
# connection files go to a temporary directory, and Deno's cache to .deno (gitignored).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

write_back=1
if [ "${1:-}" = "--check" ]; then write_back=0; shift; fi # execute and check, but leave the files alone (CI)
if [ $# -gt 0 ]; then notebooks=("$@"); else notebooks=(examples/*.ipynb); fi
fail_all() {
  echo "notebooks: $1" >&2
  echo "notebooks: 0 passed, ${#notebooks[@]} failed"
  exit 1
}
command -v jupyter >/dev/null 2>&1 && jupyter nbconvert --version >/dev/null 2>&1 ||
  fail_all "jupyter nbconvert not found; install it (apt-get install jupyter-nbconvert python3-ipykernel, or pip install nbconvert)"
deno_version=$(sh .jupyter/kernels/deno/kernel.sh --version 2>&1 | head -1) || fail_all "$deno_version"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export JUPYTER_PATH="$root/.jupyter${JUPYTER_PATH:+:$JUPYTER_PATH}"
export JUPYTER_RUNTIME_DIR="$work/runtime"
export NO_COLOR=1 # plain-text outputs, without ANSI colour codes, in the saved notebooks

# Every code cell that displays something (show(…), Deno.jupyter.…) must have kept a rich output: Deno's
# kernel can send a large display message after reporting the cell done, and nbconvert then drops it.
lost_outputs() {
  node -e '
    const nb = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const displays = /\bshow\(|Deno\.jupyter\.(display|image|html|svg|md)\b/;
    nb.cells.forEach((c, i) => {
      const code = [].concat(c.source).join("").replace(/\/\/.*$/gm, ""); // without comments
      if (c.cell_type !== "code" || !displays.test(code)) return;
      const rich = (c.outputs || []).some((o) => Object.keys(o.data || {}).some((k) => k !== "text/plain"));
      if (!rich) console.log(`cell ${i} (${c.id}) displays something but has no rich output`);
    });
  ' "$1"
}

run() { # notebook name → 0 if every cell ran and kept its outputs
  jupyter nbconvert --to notebook --execute \
    --ExecutePreprocessor.timeout=1800 \
    --ExecutePreprocessor.startup_timeout=120 \
    --ExecutePreprocessor.record_timing=False \
    --output-dir "$work/out" --output "$2" "$1" || return 2
  local lost
  lost=$(lost_outputs "$work/out/$2")
  [ -z "$lost" ] && return 0
  echo "notebooks: $1: $lost" >&2
  return 1
}

echo "notebooks: $deno_version, jupyter nbconvert $(jupyter nbconvert --version)"
passed=0
failed=0
for nb in "${notebooks[@]}"; do
  name=$(basename "$nb")
  start=$(date +%s)
  run "$nb" "$name"
  status=$?
  if [ "$status" -eq 1 ]; then
    echo "notebooks: $nb lost a display output; running it once more" >&2
    run "$nb" "$name"
    status=$?
  fi
  if [ "$status" -eq 0 ]; then
    [ "$write_back" -eq 1 ] && cp "$work/out/$name" "$nb"
    passed=$((passed + 1))
    echo "notebooks: $nb passed in $(($(date +%s) - start)) s"
  else
    failed=$((failed + 1))
    echo "notebooks: $nb FAILED after $(($(date +%s) - start)) s (left unchanged; the failing cell is shown above)"
  fi
done
echo "notebooks: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
