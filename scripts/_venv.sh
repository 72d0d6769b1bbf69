# Shared by scripts/demo and scripts/test: make ./.venv and install Duban into it.
# Needs only Python 3.11+ on PATH (python3, or $PYTHON).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"
VENV="${DUBAN_VENV:-$ROOT/.venv}"
if ! "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "Duban needs Python 3.11 or newer; $PY is $("$PY" -V 2>&1)" >&2
  exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PY" -m venv "$VENV"
fi
install_duban() {  # $1: extras, e.g. "[test]" or ""
  local stamp="$VENV/.duban-installed$1"
  if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ]; then
    echo "==> installing Duban$1 into $VENV"
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT$1"
    touch "$stamp"
  fi
}
