#!/usr/bin/env python3
"""The DuckDB side of `training_bench`: the same point-in-time training set as
Freshet's GenerateTrainingSet, computed with DuckDB window SQL.

    python3 benches/training_duckdb.py --events events.parquet \
        --labels labels.parquet --out duckdb_out.parquet [--formulation asof|window|prefix]

Inputs: events (user_id int64, amount float64, ts timestamp) and labels
(user_id int64, ts timestamp, label int64). Output: the label rows in input
order, then one column per feature (see FEATURES), with Freshet's semantics: a
window W at label time t covers events with t - W < event_time <= t; an empty
window gives NULL, except count which gives 0.

Prints one JSON object on stdout: formulation, seconds (reading both Parquet
files, the query and writing the output), peak_rss_bytes (the process's VmHWM,
the same measure the bench reads for the Freshet server), rows, duckdb_version,
threads.

If `import duckdb` fails, the script makes a virtualenv at target/bench-venv
(next to benches/), installs DuckDB there from PyPI and runs itself again with
that interpreter. Setup output goes to stderr; stdout holds only the JSON.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

# Must match the features `training_bench` applies to Freshet, in output order:
# (name, aggregate, window in days).
FEATURES = [
    ("spend_1d", "sum", 1),
    ("txns_7d", "count", 7),
    ("avg_amount_7d", "avg", 7),
    ("max_amount_30d", "max", 30),
    ("spend_30d", "sum", 30),
]

US_PER_DAY = 86_400_000_000

# What the virtualenv gets; pinned so runs on different days compare.
PIP_PACKAGES = ["duckdb==2.0.0"]
REEXEC_MARK = "FRESHET_TRAINING_DUCKDB_VENV"


def import_duckdb():
    """Imports duckdb, or sets up target/bench-venv and re-executes in it."""
    try:
        import duckdb  # noqa: PLC0415

        return duckdb
    except ImportError:
        pass
    if os.environ.get(REEXEC_MARK):
        sys.exit(f"training_duckdb.py: duckdb is still missing in {sys.executable}")
    venv = Path(__file__).resolve().parent.parent / "target" / "bench-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"training_duckdb.py: creating {venv}", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, stdout=sys.stderr)
    has_duckdb = subprocess.run(
        [str(python), "-c", "import duckdb"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if has_duckdb.returncode != 0:
        print(f"training_duckdb.py: installing {' '.join(PIP_PACKAGES)}", file=sys.stderr)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", *PIP_PACKAGES],
            check=True,
            stdout=sys.stderr,
        )
    os.environ[REEXEC_MARK] = "1"
    os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])
    raise AssertionError("unreachable")


def sql_path(path):
    """A path as a SQL string literal."""
    return "'" + str(Path(path).resolve()).replace("'", "''") + "'"


def load_inputs(con, events, labels):
    """Reads both Parquet files into temp tables, times as integer microseconds
    (so `t - W < event_time` is `event_time >= t - W + 1`, exactly), and the label
    rows numbered in file order."""
    con.execute(
        f"""CREATE TEMP TABLE ev AS
            SELECT user_id, epoch_us(ts) AS t, amount FROM read_parquet({sql_path(events)})"""
    )
    con.execute(
        f"""CREATE TEMP TABLE lb AS
            SELECT file_row_number AS rn, user_id, ts, label, epoch_us(ts) AS t
            FROM read_parquet({sql_path(labels)}, file_row_number = true)"""
    )


def range_window(days):
    """The frame of a window of `days` ending at the current row's time: events
    with t - W < event_time <= t (peers at t included)."""
    return (
        "PARTITION BY user_id ORDER BY t "
        f"RANGE BETWEEN {days * US_PER_DAY - 1} PRECEDING AND CURRENT ROW"
    )


def window_query():
    """The plain formulation: labels and events in one table, ordered per user by
    time, every feature a RANGE window function. Labels carry a NULL amount, so
    they add nothing to any aggregate."""
    columns = []
    for name, aggregate, days in FEATURES:
        columns.append(f"{aggregate}(amount) OVER ({range_window(days)}) AS {name}")
    features = ",\n               ".join(columns)
    return f"""
        SELECT user_id, ts, label, {', '.join(name for name, _, _ in FEATURES)}
        FROM (
            SELECT rn, user_id, ts, label,
               {features}
            FROM (
                SELECT NULL::BIGINT AS rn, user_id, t, amount,
                       NULL::TIMESTAMP AS ts, NULL::BIGINT AS label
                FROM ev
                UNION ALL
                SELECT rn, user_id, t, NULL::DOUBLE, ts, label FROM lb
            )
        )
        WHERE rn IS NOT NULL
        ORDER BY rn"""


def prefix_union(probe_days, max_features):
    """Events, labels (k = 0) and, for each label and each window W of a sum,
    count or avg, a probe row at t - W (k = W in days), ordered per user by
    time, with the cumulative sum and count of amount up to each row (RANGE, so
    an event at the same time as a label or probe counts for it) and each max
    feature's RANGE window. Only label and probe rows are kept. The sorted rows
    are kept narrow: the label's own columns are joined back by row number."""
    union = [
        "SELECT NULL::BIGINT AS rn, NULL::INTEGER AS k, user_id, t, amount FROM ev",
        "SELECT rn, 0, user_id, t, NULL::DOUBLE FROM lb",
    ]
    for days in probe_days:
        union.append(f"SELECT rn, {days}, user_id, t - {days * US_PER_DAY}, NULL FROM lb")
    prefix = "PARTITION BY user_id ORDER BY t RANGE UNBOUNDED PRECEDING"
    maxes = "".join(
        f",\n                   max(amount) OVER ({range_window(days)}) AS {name}"
        for name, _, days in max_features
    )
    rows = "\n                      UNION ALL ".join(union)
    return f"""SELECT rn, k,
                   sum(amount) OVER ({prefix}) AS cum_sum,
                   count(amount) OVER ({prefix}) AS cum_cnt{maxes}
            FROM ({rows})
            QUALIFY rn IS NOT NULL"""


def window_expressions(cum):
    """Output columns of the sum, count and avg features from prefix columns:
    `cum(kind, days)` names the prefix of `kind` (sum or cnt) at t - days (0: at
    t). Over (t - W, t] a sum is the prefix at t minus the prefix at t - W; an
    empty window (count 0) gives NULL, count gives 0."""
    columns = []
    for name, aggregate, days in FEATURES:
        count = f"({cum('cnt', 0)} - coalesce({cum('cnt', days)}, 0))"
        total = f"(coalesce({cum('sum', 0)}, 0) - coalesce({cum('sum', days)}, 0))"
        if aggregate == "count":
            columns.append(f"{count}::BIGINT AS {name}")
        elif aggregate == "sum":
            columns.append(f"CASE WHEN {count} > 0 THEN {total} END AS {name}")
        elif aggregate == "avg":
            columns.append(f"CASE WHEN {count} > 0 THEN {total} / {count} END AS {name}")
        elif aggregate == "max":
            columns.append(name)
        else:
            raise ValueError(f"no prefix formulation for {aggregate}")
    return ",\n               ".join(columns)


def split_features():
    """Window lengths (days) that sums, counts and averages need prefixes at,
    and the max features."""
    probe_days = sorted({days for _, aggregate, days in FEATURES if aggregate != "max"})
    max_features = [f for f in FEATURES if f[1] == "max"]
    return probe_days, max_features


def prefix_query():
    """The prefix-sum formulation with probe rows: one sort of events, labels
    and probe rows (see prefix_union), then one GROUP BY label row that puts
    each label's prefixes side by side; sum, count and avg are differences of
    prefixes; max is a RANGE window in the same pass."""
    probe_days, max_features = split_features()
    picks = [f"any_value({name}) FILTER (k = 0) AS {name}" for name, _, _ in max_features]
    for days in [0, *probe_days]:
        picks.append(f"any_value(cum_sum) FILTER (k = {days}) AS sum_{days}")
        picks.append(f"any_value(cum_cnt) FILTER (k = {days}) AS cnt_{days}")
    pick_list = ",\n                   ".join(picks)
    columns = window_expressions(lambda kind, days: f"{kind}_{days}")
    return f"""
        WITH u AS (
            {prefix_union(probe_days, max_features)}
        ), g AS (
            SELECT rn,
                   {pick_list}
            FROM u GROUP BY rn
        )
        SELECT l.user_id, l.ts, l.label,
               {columns}
        FROM g JOIN lb l ON l.rn = g.rn
        ORDER BY g.rn"""


def asof_query():
    """The ASOF formulation: one sort of events and labels gives each label its
    prefix at t and each max feature; the prefix at t - W comes from an ASOF
    join per window against the events' prefixes (the last event with time
    <= t - W). The sorted rows are kept narrow: the label's own columns are
    joined back by row number."""
    probe_days, max_features = split_features()
    joins = "\n        ".join(
        f"ASOF LEFT JOIN pre p{days} ON l.user_id = p{days}.user_id "
        f"AND l.t - {days * US_PER_DAY} >= p{days}.t"
        for days in probe_days
    )
    prefix = "PARTITION BY user_id ORDER BY t RANGE UNBOUNDED PRECEDING"
    maxes = "".join(
        f",\n                   max(amount) OVER ({range_window(days)}) AS {name}"
        for name, _, days in max_features
    )

    def cum(kind, days):
        return f"l.cum_{kind}" if days == 0 else f"p{days}.cum_{kind}"

    columns = window_expressions(cum)
    return f"""
        WITH u AS (
            SELECT rn, user_id, t,
                   sum(amount) OVER ({prefix}) AS cum_sum,
                   count(amount) OVER ({prefix}) AS cum_cnt{maxes}
            FROM (SELECT NULL::BIGINT AS rn, user_id, t, amount FROM ev
                  UNION ALL SELECT rn, user_id, t, NULL::DOUBLE FROM lb)
        ),
        l AS (SELECT u.*, lb.ts, lb.label FROM u JOIN lb ON lb.rn = u.rn),
        pre AS (SELECT user_id, t, cum_sum, cum_cnt FROM u WHERE rn IS NULL)
        SELECT l.user_id, l.ts, l.label,
               {columns}
        FROM l
        {joins}
        ORDER BY l.rn"""


QUERIES = {"asof": asof_query, "window": window_query, "prefix": prefix_query}


def peak_rss_bytes():
    """VmHWM of this process (what the bench reads for the server too); falls
    back to getrusage's ru_maxrss."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", required=True, help="events Parquet file")
    parser.add_argument("--labels", required=True, help="labels Parquet file")
    parser.add_argument("--out", required=True, help="output Parquet file")
    parser.add_argument("--formulation", choices=sorted(QUERIES), default="asof")
    parser.add_argument("--threads", type=int, help="DuckDB threads (default: all cores)")
    parser.add_argument("--print-sql", action="store_true", help="print the query and exit")
    args = parser.parse_args()
    query = QUERIES[args.formulation]()
    if args.print_sql:
        print(query)
        return

    duckdb = import_duckdb()
    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    started = time.perf_counter()
    load_inputs(con, args.events, args.labels)
    con.execute(f"COPY ({query}) TO {sql_path(args.out)} (FORMAT parquet)")
    seconds = time.perf_counter() - started
    rows = con.execute(f"SELECT count(*) FROM read_parquet({sql_path(args.out)})").fetchone()[0]
    print(
        json.dumps(
            {
                "formulation": args.formulation,
                "seconds": round(seconds, 3),
                "peak_rss_bytes": peak_rss_bytes(),
                "rows": rows,
                "duckdb_version": duckdb.__version__,
                "threads": threads,
            }
        )
    )


if __name__ == "__main__":
    main()
