"""Regenerate ``cdnow_lifetimes_summary.csv``, the reference the BTYD test compares against.

It is the output of the public reference implementation, ``lifetimes`` 0.11.3
``summary_data_from_transaction_data`` (freq "D", first purchase day excluded from monetary_value), on
the CDNOW sample transactions that ship with it (``cdnow_sample.txt``: customer id, sample id, date,
number of CDs, dollar value; 2,357 customers, 6,919 transactions). lifetimes needs pandas, numpy and
scipy, so it is not a test dependency; run this in a throwaway environment:

    python -m venv /tmp/lt && /tmp/lt/bin/pip install lifetimes==0.11.3
    /tmp/lt/bin/python tests/insights/data/make_reference.py
"""

from pathlib import Path

import pandas as pd
from lifetimes.utils import summary_data_from_transaction_data

HERE = Path(__file__).resolve().parent
OBSERVATION_END = "1998-06-30"

transactions = pd.read_csv(
    HERE / "cdnow_sample.txt", sep=r"\s+", header=None, names=["customer_id", "sample_id", "date", "cds", "value"]
)
transactions["date"] = pd.to_datetime(transactions["date"].astype(str), format="%Y%m%d")
summary = summary_data_from_transaction_data(
    transactions, "customer_id", "date", monetary_value_col="value", observation_period_end=OBSERVATION_END
)
summary.to_csv(HERE / "cdnow_lifetimes_summary.csv", float_format="%.6f")
