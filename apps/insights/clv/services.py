"""Fit the lifetime value models as of a date and score every member, set-based.

A fit reads the members' inputs in one pass over the orders (``inputs.inputs_create``), fits BG/NBD and
Gamma-Gamma on the distinct inputs with their counts (``fitting``), evaluates the predictions once per
distinct (x, t_x, T) in numpy and writes every member's scores in one ``INSERT ... SELECT`` joined to
those arrays: the number of statements does not depend on the number of members.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from django.db import connection, transaction
from django.utils import timezone

from ..errors import ClvBadDate, ClvCannotFit, ClvNotConverged, ClvTooLittleData
from . import fitting
from .inputs import INPUTS_TABLE, first_purchase_day, inputs_create, spends_read, triples_read
from .models import ClvModel, MemberClv

HORIZONS = (90, 365)  # days ahead the members' expected purchases are given for
HOLDOUT_WEEKS = 13
HOLDOUT_MAX_X = 7  # the holdout chart groups members with this many calibration purchases or more
VALUE_BANDS = (("top10", 0.10), ("top25", 0.25), ("top50", 0.50))  # the rest: bottom50
ERRORS = {
    "too_few_repeat_buyers": ClvTooLittleData,
    "too_little_data": ClvTooLittleData,
    "not_converged": ClvNotConverged,
}


@dataclass(frozen=True)
class Fit:
    members: int
    repeat_buyers: int
    bgnbd: fitting.BgNbd
    gamma_gamma: fitting.GammaGamma


def _session(cursor) -> None:
    # Big one-off statements: the JIT compiles for seconds and saves nothing; the per-member grouping fits in memory.
    cursor.execute("SET LOCAL jit = off; SET LOCAL work_mem = '256MB'")


def _fit_inputs(cursor) -> tuple[Fit, tuple[np.ndarray, ...]]:
    """Fit both models on ``clv_inputs``; returns the fit and the distinct triples with their counts."""
    x, t_x, T, n = (np.asarray(c, dtype=float) for c in triples_read(cursor))
    members = int(n.sum())
    repeat_buyers = int(n[x > 0].sum())
    if members == 0:
        raise fitting.FitError("too_little_data", "no member has bought anything by this date")
    bgnbd = fitting.bgnbd_fit(x, t_x, T, n)
    gx, gm, gn = spends_read(cursor)
    gamma_gamma = fitting.gamma_gamma_fit(gx, gm, gn)
    return Fit(members, repeat_buyers, bgnbd, gamma_gamma), (x, t_x, T, n)


def clv_fit(*, as_of: date | None = None, holdout_weeks: int = HOLDOUT_WEEKS) -> ClvModel:
    """Fit BG/NBD and Gamma-Gamma as of ``as_of`` (default today, inclusive) and score every member.

    On too little data, a date before the first purchase or a fit that does not converge, raises a
    ``ClvCannotFit`` after recording the failed attempt: the current model and every score are kept.
    """
    today = timezone.localdate()
    as_of = as_of or today
    started = clock.monotonic()
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _session(cursor)
            first = first_purchase_day(cursor)
            if as_of > today:
                raise ClvBadDate(f"{as_of} is in the future: the models are fitted on what has happened.")
            if first is None or as_of < first:
                raise ClvBadDate(
                    f"{as_of} is before the first purchase ({first or 'none yet'}): there is nothing to fit."
                )
            holdout = _holdout_check(cursor, as_of=as_of, first=first, weeks=holdout_weeks)
            inputs_create(cursor, as_of=as_of)
            fit, triples = _fit_inputs(cursor)
            _members_score(cursor, fit=fit, triples=triples, as_of=as_of)
            diagnostics = {"holdout": holdout, **_distributions(cursor)}
            cursor.execute(f"DROP TABLE {INPUTS_TABLE}")
            ClvModel.objects.filter(is_current=True).update(is_current=False)
            return ClvModel.objects.create(
                as_of=as_of,
                fitted_at=timezone.now(),
                status=ClvModel.Status.FITTED,
                is_current=True,
                members=fit.members,
                repeat_buyers=fit.repeat_buyers,
                r=fit.bgnbd.r,
                alpha=fit.bgnbd.alpha,
                a=fit.bgnbd.a,
                b=fit.bgnbd.b,
                log_likelihood=fit.bgnbd.log_likelihood,
                p=fit.gamma_gamma.p,
                q=fit.gamma_gamma.q,
                v=fit.gamma_gamma.v,
                gg_log_likelihood=fit.gamma_gamma.log_likelihood,
                seconds=round(clock.monotonic() - started, 3),
                diagnostics=diagnostics,
            )
    except fitting.FitError as exc:
        error = ERRORS.get(exc.code, ClvCannotFit)(f"{exc.message}; the previous model and scores are kept.")
    except ClvCannotFit as exc:
        error = exc
    _failure_record(as_of=as_of, message=error.message)
    raise error


def _failure_record(*, as_of: date, message: str) -> ClvModel:
    """Keep a failed attempt for the record (the console lists it); nothing else changes."""
    with transaction.atomic():
        return ClvModel.objects.create(
            as_of=as_of, fitted_at=timezone.now(), status=ClvModel.Status.FAILED, message=message
        )


def _predictions(fit: Fit, x, t_x, T) -> dict[str, np.ndarray]:
    out = {"p_alive": fitting.p_alive(fit.bgnbd, x, t_x, T)}
    for days in HORIZONS:
        out[f"e{days}"] = fitting.expected_purchases(fit.bgnbd, days, x, t_x, T)
    bad = ~np.all([np.isfinite(v) for v in out.values()], axis=0)
    if bad.any():
        raise fitting.FitError("not_converged", f"the fitted model gives no prediction for {int(bad.sum())} inputs")
    return out


def _members_score(cursor, *, fit: Fit, triples: tuple[np.ndarray, ...], as_of: date) -> None:
    """Every member in ``clv_inputs`` gets the predictions of its triple: three statements in all."""
    x, t_x, T, _n = triples
    pred = _predictions(fit, x, t_x, T)
    gg = fit.gamma_gamma
    table = MemberClv._meta.db_table
    bands = " ".join(f"WHEN rank_share <= {share} THEN '{band}'" for band, share in VALUE_BANDS)
    cursor.execute(
        f"""
        CREATE TEMPORARY TABLE clv_scores ON COMMIT DROP AS
        WITH predicted AS (
            SELECT * FROM unnest(%(x)s::int[], %(t_x)s::int[], %(T)s::int[], %(p_alive)s::float8[],
                                 %(e90)s::float8[], %(e365)s::float8[]) AS s(x, t_x, "T", p_alive, e90, e365)
        ), valued AS (
            SELECT i.member_id, s.p_alive, s.e90, s.e365, old.p_alive AS p_alive_before,
                   -- Gamma-Gamma: E(spend | x, m) = p (v + x m) / (p x + q - 1), the population mean when x = 0
                   round(%(p)s::numeric * (%(v)s::numeric + i.x * i.m) / (%(p)s::numeric * i.x + %(q)s::numeric - 1), 2)
                       AS spend
            FROM {INPUTS_TABLE} i
            JOIN predicted s ON s.x = i.x AND s.t_x = i.t_x AND s."T" = i."T"
            LEFT JOIN {table} old ON old.member_id = i.member_id
        )
        SELECT *, round(e365::numeric * spend, 2) AS value FROM valued
        """,
        {
            "x": x.astype(int).tolist(),
            "t_x": t_x.astype(int).tolist(),
            "T": T.astype(int).tolist(),
            **{key: values.tolist() for key, values in pred.items()},
            "p": gg.p,
            "q": gg.q,
            "v": gg.v,
        },
    )
    cursor.execute(f"DELETE FROM {table}")
    cursor.execute(
        f"""
        INSERT INTO {table} (member_id, as_of, p_alive, p_alive_before, expected_purchases_90d,
                             expected_purchases_365d, expected_spend, expected_value_365d, value_band)
        SELECT member_id, %(as_of)s, p_alive, p_alive_before, e90, e365, spend, value,
               CASE {bands} ELSE 'bottom50' END
        FROM (SELECT *, cume_dist() OVER (ORDER BY value DESC) AS rank_share FROM clv_scores) ranked
        """,
        {"as_of": as_of},
    )
    cursor.execute("DROP TABLE clv_scores")


def _distributions(cursor) -> dict:
    """P(alive) in tenths, and the members and predicted value of each value band (one query each)."""
    table = MemberClv._meta.db_table
    cursor.execute(f"SELECT least(floor(p_alive * 10), 9)::int AS bucket, count(*) FROM {table} GROUP BY 1 ORDER BY 1")
    counts = dict(cursor.fetchall())
    p_alive = [{"from": k / 10, "to": (k + 1) / 10, "members": counts.get(k, 0)} for k in range(10)]
    cursor.execute(
        f"SELECT value_band, count(*), sum(expected_value_365d), min(expected_value_365d), "
        f"max(expected_value_365d) FROM {table} GROUP BY 1"
    )
    found = {row[0]: row[1:] for row in cursor.fetchall()}
    bands = []
    for band in [b for b, _ in VALUE_BANDS] + ["bottom50"]:
        members, total, low, high = found.get(band, (0, None, None, None))
        bands.append(
            {"band": band, "members": members, "value": str(total or 0), "min": str(low or 0), "max": str(high or 0)}
        )
    return {"p_alive": p_alive, "value_bands": bands}


def _holdout_check(cursor, *, as_of: date, first: date, weeks: int) -> dict:
    """Fit on everything up to ``weeks`` before ``as_of``, then compare predicted with actual repeat purchase
    days in those weeks, by the number of repeat purchases in the calibration period (capped)."""
    calibration_end = as_of - timedelta(weeks=weeks)
    if weeks <= 0 or calibration_end < first + timedelta(weeks=weeks):
        return {"weeks": weeks, "message": f"less than {2 * weeks} weeks of history: no holdout check"}
    inputs_create(cursor, as_of=calibration_end, holdout_until=as_of)
    try:
        fit, _ = _fit_inputs(cursor)
    except fitting.FitError as exc:
        return {"weeks": weeks, "calibration_end": str(calibration_end), "message": exc.message}
    cursor.execute(f'SELECT x, t_x, "T", count(*), sum(holdout) FROM {INPUTS_TABLE} GROUP BY 1, 2, 3')
    x, t_x, T, n, actual = (np.asarray(c, dtype=float) for c in zip(*cursor.fetchall(), strict=True))
    cursor.execute(f"DROP TABLE {INPUTS_TABLE}")
    predicted = fitting.expected_purchases(fit.bgnbd, weeks * 7, x, t_x, T) * n
    group = np.minimum(x, HOLDOUT_MAX_X).astype(int)
    rows = []
    for g in range(HOLDOUT_MAX_X + 1):
        here = group == g
        members = int(n[here].sum())
        if members:
            rows.append(
                {
                    "x": f"{g}+" if g == HOLDOUT_MAX_X else str(g),
                    "members": members,
                    "actual": round(float(actual[here].sum()) / members, 4),
                    "predicted": round(float(predicted[here].sum()) / members, 4),
                }
            )
    return {
        "weeks": weeks,
        "calibration_end": str(calibration_end),
        "params": {"r": fit.bgnbd.r, "alpha": fit.bgnbd.alpha, "a": fit.bgnbd.a, "b": fit.bgnbd.b},
        "by_x": rows,
        "actual_total": int(actual.sum()),
        "predicted_total": round(float(predicted.sum()), 1),
    }
