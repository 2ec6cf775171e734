"""Closes the loop on the e-commerce example: a training set from labels, a
scikit-learn model trained on it, the same users scored from online features,
and a check that online features equal the training rows at the same instant.

    make run                                   # in one shell: the server
    python examples/ecommerce/train_model.py   # in another

Needs the Python client and scikit-learn:
``pip install ./clients/python scikit-learn``. The users it makes up have ids
from 10,000,000 on, apart from purchase-generator's, so the check is not
disturbed by the events flowing meanwhile.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import random
import sys
from pathlib import Path

import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

import freshet

HERE = Path(__file__).resolve().parent
FEATURES = [
    "user_spend_7d",
    "user_purchases_1d",
    "user_min_amount_7d",
    "user_categories_30d",
    "user_amount_stddev_30d",
]
FIRST_USER = 10_000_000


def history(users: int, days: int, now: dt.datetime, rng: random.Random) -> pd.DataFrame:
    """Made-up purchases over the last ``days`` days: each user buys at a rate
    of their own, so recent activity predicts what comes next."""
    rows = []
    for user in range(FIRST_USER, FIRST_USER + users):
        rate = rng.choice([0.05, 0.2, 1.0])  # purchases per day
        t = now - dt.timedelta(days=days)
        while True:
            t += dt.timedelta(days=rng.expovariate(rate))
            if t >= now - dt.timedelta(seconds=1):
                break
            amount = round(rng.lognormvariate(3, 0.8), 2)
            rows.append((user, rng.randint(1, 200), amount, t.replace(microsecond=0)))
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "amount", "ts"])
    return frame.sort_values("ts", kind="stable").reset_index(drop=True)


def labels_of(events: pd.DataFrame, users: int, now: dt.datetime, rng: random.Random) -> pd.DataFrame:
    """One label row per user: at an instant of the past two weeks, whether the
    user buys within the next three days."""
    rows = []
    for user in range(FIRST_USER, FIRST_USER + users):
        at = now - dt.timedelta(days=3, seconds=rng.randrange(11 * 86400))
        mine = events["ts"][events["user_id"] == user]
        buys = bool(((mine > at) & (mine <= at + dt.timedelta(days=3))).any())
        rows.append((user, at, int(buys)))
    return pd.DataFrame(rows, columns=["user_id", "ts", "buys_within_3d"])


def same(a: object, b: object) -> bool:
    """Equal values, a missing value being equal to another missing one."""
    missing = lambda v: v is None or (isinstance(v, float) and math.isnan(v))  # noqa: E731
    return (missing(a) and missing(b)) or a == b


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--address", default="127.0.0.1:50051")
    parser.add_argument("--users", type=int, default=2000)
    parser.add_argument("--days", type=int, default=45)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    client = freshet.Client(args.address)

    plan = client.apply(HERE / "definitions.yaml")
    print(f"definitions: {sum(c.action != 'unchanged' for c in plan.changes)} change(s)")
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    events = history(args.users, args.days, now, rng)
    ingested = client.ingest("purchases", events, wait=True)
    print(f"ingested {ingested.accepted} purchases of {args.users} users")

    # 1. A point-in-time-correct training set: each row's features as of its instant.
    labels = labels_of(events, args.users, now, rng)
    table = client.get_training_set(features=FEATURES, labels=labels, timestamp_column="ts")
    frame = table.to_pandas()
    x = frame[FEATURES].astype(float).fillna(0.0)
    y = frame["buys_within_3d"]
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.3, random_state=0)
    model = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    auc = roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])
    print(f"trained on {len(x_train)} rows; held-out AUC {auc:.3f} (base rate {y.mean():.2f})")

    # 2. Serving: the same users scored from online features.
    users = list(range(FIRST_USER, FIRST_USER + args.users))
    online = client.get_online_features(FEATURES, {"user_id": users})
    served = online.to_pandas()
    scores = model.predict_proba(served[FEATURES].astype(float).fillna(0.0))[:, 1]
    top = served.assign(score=scores).nlargest(3, "score")
    print("most likely to buy in the next 3 days:")
    print(top[["user_id", *FEATURES, "score"]].to_string(index=False))

    # 3. One definition, two paths: the training rows at the instant the online
    # values were read are those values, value for value.
    at = online.evaluated_at
    replay = client.get_training_set(
        features=FEATURES,
        labels=pd.DataFrame({"user_id": users, "ts": [at] * len(users)}),
        timestamp_column="ts",
    )
    mismatches = [
        (user, feature, online[feature][i], replay.column(feature)[i].as_py())
        for feature in FEATURES
        for i, user in enumerate(users)
        if not same(online[feature][i], replay.column(feature)[i].as_py())
    ]
    if mismatches:
        print(f"online and training differ at {at.isoformat()}: {mismatches[:5]}")
        return 1
    print(
        f"online features equal the training rows at {at.isoformat()}: "
        f"{len(users)} users x {len(FEATURES)} features"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
