"""Purchase events for the e-commerce example and a brute-force reference of
its features, computed here from the events alone."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pandas as pd

from conftest import ROOT

DAY = dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)


def categories() -> dict[int, str]:
    """The example's item catalogue: item id to category."""
    with (ROOT / "examples" / "ecommerce" / "items.csv").open() as f:
        return {int(row["item_id"]): row["category"] for row in csv.DictReader(f)}


def whole_second_now() -> dt.datetime:
    """Now, in UTC, cut to the second."""
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


def purchases(now: dt.datetime) -> pd.DataFrame:
    """Purchases of users 1-3 well inside or outside the windows (no event
    within minutes of a window bound), oldest first (the source allows 5
    minutes of lateness)."""
    rows = [
        (3, 4, 99.0, now - 40 * DAY),
        (1, 1, 10.0, now - 8 * DAY),
        (1, 2, 20.0, now - 2 * DAY),
        (1, 1, 5.5, now - HOUR),
        (1, 3, 2.25, now - 30 * dt.timedelta(minutes=1)),
        (2, 2, 7.0, now - 20 * dt.timedelta(minutes=1)),
    ]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "amount", "ts"])


def spend(events: pd.DataFrame, user: int, at: dt.datetime, window: dt.timedelta) -> float:
    """user_spend_7d by brute force: amounts of the user's joinable purchases
    in (at - window, at]."""
    known = events["item_id"].isin(list(categories()))
    inside = (events["ts"] > at - window) & (events["ts"] <= at)
    mine = events[(events["user_id"] == user) & known & inside & (events["amount"] > 0)]
    return float(mine["amount"].sum())


def count(events: pd.DataFrame, user: int, at: dt.datetime, window: dt.timedelta) -> int:
    """user_purchases_1d by brute force."""
    inside = (events["ts"] > at - window) & (events["ts"] <= at)
    return int(((events["user_id"] == user) & inside).sum())


def min_amount(events: pd.DataFrame, user: int, at: dt.datetime, window: dt.timedelta) -> float | None:
    """user_min_amount_7d by brute force: the smallest amount of the user's
    purchases in (at - window, at], None without one."""
    inside = (events["ts"] > at - window) & (events["ts"] <= at)
    mine = events[(events["user_id"] == user) & inside]
    return None if mine.empty else float(mine["amount"].min())


def last_category(events: pd.DataFrame, user: int, at: dt.datetime) -> str | None:
    """user_last_category by brute force: the category of the latest joinable
    purchase at or before ``at`` (None without one)."""
    names = categories()
    mine = events[(events["user_id"] == user) & (events["ts"] <= at)]
    mine = mine[mine["item_id"].isin(list(names)) & (mine["amount"] > 0)]
    if mine.empty:
        return None
    latest = mine.sort_values("ts", kind="stable").iloc[-1]
    return names[int(latest["item_id"])]


def example_path(name: str) -> Path:
    """A file of the e-commerce example."""
    return ROOT / "examples" / "ecommerce" / name
