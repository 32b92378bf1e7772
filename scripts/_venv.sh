# Sourced by the other scripts: make sure .venv exists and holds Veza with the given extras.
# Reinstalls only when pyproject.toml or the extras change.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

ensure_venv() {
    local extras="$1"
    local python="${PYTHON:-python3}"
    if [ ! -x .venv/bin/python ]; then
        echo "creating .venv with $($python --version)" >&2
        "$python" -m venv .venv
        .venv/bin/python -m pip install --quiet --upgrade pip
    fi
    local stamp=".venv/.veza-installed"
    local hash have extra missing=""
    hash="$(sha256sum pyproject.toml | cut -d' ' -f1)"
    have="$(cat "$stamp" 2>/dev/null || true)"
    # Up to date when installed from this pyproject with at least these extras.
    for extra in ${extras//,/ }; do
        case ",${have#* }," in *",$extra,"*) ;; *) missing=yes ;; esac
    done
    if [ "${have%% *}" != "$hash" ] || [ -n "$missing" ]; then
        echo "installing veza${extras:+[$extras]} into .venv" >&2
        .venv/bin/python -m pip install --quiet -e ".${extras:+[$extras]}"
        echo "$hash $extras" > "$stamp"
    fi
}
