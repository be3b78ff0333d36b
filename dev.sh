#!/usr/bin/env bash
# The two set-up commands of the README:
#   ./dev.sh demo   install what is needed, embed scikit-learn's digits with UMAP into demo-output/
#   ./dev.sh test   install what is needed (the test and peers extras: umap-learn and openTSNE for
#                   the parity tests; torch 2.13.0's CPU build for the torch backend), run the whole test suite
set -euo pipefail
cd "$(dirname "$0")"
VENV="${ARDR_VENV:-.venv}"

ensure_venv() {
    local extra="$1" pins="${2:-}" stamp
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" >/dev/null 2>&1; then
        # Debian's python3 ships venv/ensurepip separately.
        if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
            apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
        else
            echo "python3-venv is missing: install it (apt-get install python3-venv)" >&2; exit 1
        fi
    fi
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    stamp="$VENV/.ardr-installed-${extra:-base}-$(cat pyproject.toml dev.sh | sha1sum | cut -c1-12)"
    if [ ! -f "$stamp" ]; then
        "$VENV/bin/python" -m pip install -q --upgrade pip
        # shellcheck disable=SC2086  # pins: several requirement words
        "$VENV/bin/python" -m pip install -q -e ".${extra:+[$extra]}" $pins
        touch "$stamp"
    fi
}

ensure_system_packages() {
    # Headless Chromium renders the HTML report in a test; Fashion-MNIST comes from Debian.
    local missing=()
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    [ -d /usr/share/datasets/fashion-mnist ] || missing+=(dataset-fashion-mnist)
    if [ ${#missing[@]} -gt 0 ]; then
        if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
        else
            echo "note: ${missing[*]} not installed (needs root + apt); the tests that use them are skipped" >&2
        fi
    fi
}

case "${1:-}" in
    demo)
        ensure_venv ""
        "$VENV/bin/ardr" embed --dataset digits --method umap --seed 0 --out "${2:-demo-output}"
        ;;
    test)
        # the torch backend's tests run on torch's CPU build; 2.13.0 is the version this
        # machine image carries on local disk (any other version downloads gigabytes)
        ensure_venv "test,peers,torch" "torch==2.13.0"
        ensure_system_packages
        shift
        "$VENV/bin/python" -m pytest -q "$@"
        ;;
    *)
        echo "usage: ./dev.sh demo [OUT_DIR] | ./dev.sh test [pytest args]" >&2; exit 2 ;;
esac
