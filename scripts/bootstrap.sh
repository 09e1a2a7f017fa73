# shellcheck shell=sh
# Shared bootstrap, sourced (not executed) from the repository root by ./dev, ./test
# and .ci/run. POSIX sh.
#
# Makes sure .venv exists (Python 3.11 or 3.12) and holds this project installed in
# editable mode with its [test] extras. When .venv/.installed is newer than
# pyproject.toml nothing is installed, so a second run costs a few milliseconds.
# Override the interpreter used to create .venv with BILLING_PYTHON=/path/to/python.

_bb_die() {
    echo "bootstrap: error: $*" >&2
    exit 1
}

# True when "$1" runs and is Python 3.11 or 3.12 (pyenv shims of missing versions fail).
_bb_python_ok() {
    "$1" -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 12))' >/dev/null 2>&1
}

[ -f pyproject.toml ] || _bb_die "source me from the repository root (no pyproject.toml in $(pwd))"

if [ ! -x .venv/bin/python ] || ! _bb_python_ok .venv/bin/python; then
    _bb_py=
    for _bb_cand in ${BILLING_PYTHON:-} python3 python3.12 python3.11; do
        if _bb_python_ok "$_bb_cand"; then
            _bb_py=$_bb_cand
            break
        fi
    done
    [ -n "$_bb_py" ] || _bb_die "Python 3.11 or 3.12 is required, but none of python3, python3.12, python3.11 is one. Install one, or point BILLING_PYTHON at it."
    echo "bootstrap: creating .venv with $_bb_py ($("$_bb_py" -c 'import sys; print(sys.version.split()[0])'))" >&2
    if [ -e .venv ]; then
        # An existing .venv with a missing or wrong interpreter: rebuild it.
        "$_bb_py" -m venv --clear .venv || _bb_die "could not recreate .venv"
    else
        "$_bb_py" -m venv .venv || _bb_die "could not create .venv"
    fi
    rm -f .venv/.installed
fi

if [ ! -f .venv/.installed ] || [ ! -x .venv/bin/billing ] || [ ! -x .venv/bin/pytest ] \
        || [ -n "$(find pyproject.toml -newer .venv/.installed)" ]; then
    echo "bootstrap: installing the project into .venv: pip install -e '.[test]' (first run takes a minute)" >&2
    # The marker gets the time the install started, so an edit of pyproject.toml
    # made during the install still triggers the next one.
    touch .venv/.installing
    .venv/bin/python -m pip install --quiet --disable-pip-version-check -e '.[test]' \
        || _bb_die "pip install -e '.[test]' failed (see above); fix it and run again"
    mv -f .venv/.installing .venv/.installed
    echo "bootstrap: .venv is ready" >&2
fi

unset _bb_py _bb_cand
