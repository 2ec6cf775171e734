#!/usr/bin/env bash
# Generates the protobuf and gRPC stubs of the Python client from the server's
# .proto files, into src/freshet/v1/. With --check, generates them into a
# scratch folder and fails when the committed stubs differ (CI runs this).
#
#   bash clients/python/generate_stubs.sh [--check]
#
# Needs grpcio-tools at the version of requirements-dev.txt (the stubs name the
# protobuf runtime they were made by); `bash .ci/setup-python` installs it, and
# PYTHON (default: that environment's python) names the interpreter.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
python="${PYTHON:-${FRESHET_TOOLS_DIR:-$HOME/.cache/freshet}/python/bin/python}"
out="$here/src"
if [ "${1:-}" = "--check" ]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out/freshet/v1"
"$python" -m grpc_tools.protoc -I "$root/api/proto" \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" \
  "$root/api/proto/freshet/v1/feature_store.proto"
if [ "${1:-}" = "--check" ]; then
  for file in feature_store_pb2.py feature_store_pb2.pyi feature_store_pb2_grpc.py; do
    if ! cmp -s "$out/freshet/v1/$file" "$here/src/freshet/v1/$file"; then
      echo "clients/python/src/freshet/v1/$file is stale: run bash clients/python/generate_stubs.sh and commit it" >&2
      exit 1
    fi
  done
  echo "the Python stubs match api/proto" >&2
fi
