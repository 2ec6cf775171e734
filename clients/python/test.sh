#!/usr/bin/env bash
# The Python client's checks, run by `make test` after `bash .ci/setup-python`:
# the stubs match api/proto, the package installs with pip, and its tests
# (and the e-commerce example) pass against the real freshet binary.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-${FRESHET_TOOLS_DIR:-$HOME/.cache/freshet}/python/bin/python}"

PYTHON="$python" bash "$here/generate_stubs.sh" --check
# The binary the workspace's own end-to-end tests run (built with the test
# build's features, so after `cargo test` this builds nothing).
(cd "$root" && cargo test --workspace --all-targets --no-run --quiet)
"$python" -m pip install --quiet --disable-pip-version-check --no-deps --force-reinstall "$here"
cd "$here"
"$python" -m pytest -q -p no:cacheprovider tests
