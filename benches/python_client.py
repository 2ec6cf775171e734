"""End-to-end numbers of the Python client against a real release server, as
JSON on stdout (progress on stderr):

- get_online_features, 1 key x 10 features, sequential: p50/p99 and calls/s,
  beside the same request sent through the bare generated gRPC stub (the floor
  of Python gRPC, measured in the same run);
- get_training_set, 1M rows x 5 features to pandas: seconds and peak RSS of the
  Python process, beside reading the same rows from a Parquet file with pyarrow
  (the floor), each in a fresh process.

    cargo build --release --workspace --bins
    bash .ci/setup-python && ~/.cache/freshet/python/bin/pip install ./clients/python
    ~/.cache/freshet/python/bin/python benches/python_client.py > benches/results-python_client.json
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEN = [
    "user_spend_7d", "user_purchases_1d", "user_avg_amount_30d", "user_min_amount_7d",
    "user_max_amount_7d", "user_last_category", "user_first_purchase_at",
    "user_categories_30d", "user_amount_stddev_30d", "user_lifetime_cents",
]
FIVE = TEN[:5]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def peak_rss_mib() -> float:
    """The process's peak resident set (VmHWM), which, unlike ru_maxrss, does
    not carry the parent's peak over fork and exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def start_server(binary: Path, data: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [str(binary), "serve", "--data-dir", str(data), "--listen", "127.0.0.1:0",
         "--metrics-listen", "127.0.0.1:0", "--apply", str(ROOT / "examples/ecommerce/definitions.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    for line in process.stdout:
        if line.startswith("freshet listening on "):
            return process, line.split()[-1]
    raise RuntimeError("freshet serve exited before listening")


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def timed_calls(call, keys: list[int]) -> dict:
    latencies = []
    started = time.perf_counter()
    for key in keys:
        t = time.perf_counter()
        call(key)
        latencies.append(time.perf_counter() - t)
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "calls": len(keys),
        "calls_per_second": round(len(keys) / elapsed, 1),
        "p50_us": round(percentile(latencies, 0.5) * 1e6, 1),
        "p99_us": round(percentile(latencies, 0.99) * 1e6, 1),
    }


def online_phase(address: str, calls: int, users: int) -> dict:
    import freshet
    from freshet.v1 import feature_store_pb2 as pb
    from freshet.v1 import feature_store_pb2_grpc as rpc
    import grpc

    rng = random.Random(3)
    keys = [rng.randrange(users) for _ in range(calls)]
    client = freshet.Client(address)
    stub = rpc.FeatureStoreStub(grpc.insecure_channel(address))

    def through_client(key: int) -> None:
        client.get_online_features(TEN, {"user_id": [key]})

    def through_stub(key: int) -> None:
        stub.GetOnlineFeatures(
            pb.GetOnlineFeaturesRequest(features=TEN, entity="user", keys=[pb.EntityKey(int_value=key)])
        )

    for warm in (through_client, through_stub):
        for key in keys[:500]:
            warm(key)
    # Alternate the two in halves so drift on a noisy machine hits both.
    half = calls // 2
    client_a = timed_calls(through_client, keys[:half])
    stub_a = timed_calls(through_stub, keys[:half])
    client_b = timed_calls(through_client, keys[half:])
    stub_b = timed_calls(through_stub, keys[half:])
    best = lambda a, b: a if a["calls_per_second"] >= b["calls_per_second"] else b  # noqa: E731
    client_r, stub_r = best(client_a, client_b), best(stub_a, stub_b)
    feast = 3067.0
    return {
        "client": client_r,
        "bare_stub": stub_r,
        "client_over_bare_stub": round(client_r["calls_per_second"] / stub_r["calls_per_second"], 3),
        "feast_python_sdk_calls_per_second_quoted": feast,
        "client_over_feast_quoted": round(client_r["calls_per_second"] / feast, 2),
    }


def training_phase(address: str, labels: str, out: str) -> dict:
    import freshet
    import pyarrow.parquet as pq

    before = peak_rss_mib()
    started = time.perf_counter()
    table = freshet.Client(address).get_training_set(
        features=FIVE, labels=labels, timestamp_column="ts", progress=False
    )
    frame = table.to_pandas()
    seconds = time.perf_counter() - started
    result = {"rows": len(frame), "seconds": round(seconds, 3), "peak_rss_mib": round(peak_rss_mib(), 1),
              "rss_after_imports_mib": round(before, 1)}
    pq.write_table(table, out)
    return result


def parquet_phase(path: str) -> dict:
    import pyarrow.parquet as pq
    import freshet  # noqa: F401  (the same imports as the training phase)

    before = peak_rss_mib()
    started = time.perf_counter()
    frame = pq.read_table(path).to_pandas()
    seconds = time.perf_counter() - started
    return {"rows": len(frame), "seconds": round(seconds, 3), "peak_rss_mib": round(peak_rss_mib(), 1),
            "rss_after_imports_mib": round(before, 1)}


def in_fresh_process(*args: str) -> dict:
    done = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--freshet", default=str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release/freshet"))
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--phase", choices=["training", "parquet"])
    parser.add_argument("--address")
    parser.add_argument("--labels")
    parser.add_argument("--out")
    args = parser.parse_args()
    if args.phase == "training":
        print(json.dumps(training_phase(args.address, args.labels, args.out)))
        return
    if args.phase == "parquet":
        print(json.dumps(parquet_phase(args.out)))
        return

    import pandas as pd
    import freshet

    with tempfile.TemporaryDirectory(prefix="python_client_bench-") as scratch:
        server, address = start_server(Path(args.freshet), Path(scratch) / "data")
        try:
            client = freshet.Client(address)
            rng = random.Random(1)
            now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
            log(f"ingesting {args.events} purchases of {args.users} users")
            events = pd.DataFrame({
                "user_id": [rng.randrange(args.users) for _ in range(args.events)],
                "item_id": [rng.randrange(1, 201) for _ in range(args.events)],
                "amount": [round(rng.uniform(1, 200), 2) for _ in range(args.events)],
                "ts": sorted(now - dt.timedelta(seconds=rng.randrange(1, 30 * 86400)) for _ in range(args.events)),
            })
            client.ingest("purchases", events, wait=True)
            log(f"online: {args.calls} sequential calls, 1 key x 10 features")
            online = online_phase(address, args.calls, args.users)
            labels = Path(scratch) / "labels.parquet"
            pd.DataFrame({
                "user_id": [rng.randrange(args.users) for _ in range(args.rows)],
                "ts": [now - dt.timedelta(seconds=rng.randrange(0, 30 * 86400)) for _ in range(args.rows)],
            }).to_parquet(labels)
            out = str(Path(scratch) / "training.parquet")
            log(f"training set: {args.rows} rows x 5 features, then the same rows from Parquet")
            training = in_fresh_process("--phase", "training", "--address", address,
                                        "--labels", str(labels), "--out", out)
            floor = in_fresh_process("--phase", "parquet", "--out", out)
        finally:
            server.terminate()
            server.wait()
    print(json.dumps({
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "events": args.events,
        "users": args.users,
        "get_online_features_1_key_10_features": online,
        "get_training_set_to_pandas": {
            "features": 5,
            "freshet": training,
            "parquet_floor": floor,
            "seconds_over_floor": round(training["seconds"] / floor["seconds"], 2),
            "peak_rss_over_floor": round(training["peak_rss_mib"] / floor["peak_rss_mib"], 2),
        },
    }, indent=2))


if __name__ == "__main__":
    main()
