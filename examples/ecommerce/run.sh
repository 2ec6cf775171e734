#!/usr/bin/env bash
# README's main command: build, start the server with the e-commerce example
# applied, keep purchase events flowing, and print a `freshet get` to try.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin="${CARGO_TARGET_DIR:-target}/release"
if [ ! -x "$bin/freshet" ] || [ ! -x "$bin/purchase-generator" ]; then
  echo "First build: compiling Freshet with DataFusion and RocksDB in release mode takes about 20 minutes on 2 cores (later runs take seconds)." >&2
fi
cargo build --release --bin freshet --bin purchase-generator
# The server's output goes to a fresh file of this run, so a line left by an
# earlier run can never be taken for this server's readiness.
out=$(mktemp -t freshet-run.XXXXXX)
"$bin/freshet" serve --apply examples/ecommerce/definitions.yaml > >(tee "$out") &
server=$!
generator=""
trap 'kill $server $generator 2>/dev/null || true; rm -f "$out"' EXIT INT TERM
until grep -q "freshet listening on" "$out"; do
  kill -0 $server 2>/dev/null || { echo "the server did not start (is another freshet already serving on 127.0.0.1:50051?)" >&2; exit 1; }
  sleep 0.2
done
"$bin/purchase-generator" --rate 200 &
generator=$!
cat <<TRY

Events are flowing (200 purchases/s from purchase-generator). Try, in another shell:

  $bin/freshet get --features user_spend_7d,user_purchases_1d,user_avg_amount_30d,user_last_category,user_categories_30d --entity user=1 --entity user=2
  $bin/freshet get --features category_revenue --entity category=books
  $bin/freshet status
  curl -s http://127.0.0.1:9464/metrics | grep freshet_

Stop with Ctrl-C.
TRY
wait $server
