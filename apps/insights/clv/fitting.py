"""BG/NBD (Fader, Hardie & Lee 2005) and Gamma-Gamma (Fader & Hardie 2013) by maximum likelihood.

Pure numpy/scipy, no database: every function takes arrays of the *distinct* inputs and their counts
(weights), so a million members with a few thousand distinct (frequency, recency, T) triples fit in the
time a few thousand take. Times are in whatever unit the caller uses (the platform uses days).

Notation: ``x`` repeat purchases (frequency), ``t_x`` time of the last purchase from the first (recency),
``T`` time from the first purchase to the end of observation, ``m`` mean spend of the repeat purchases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize, special

# At fewer repeat buyers than this the Gamma-Gamma (and the BG/NBD dropout process) is guesswork.
MIN_REPEAT_BUYERS = 20


class FitError(Exception):
    """The data cannot be fitted (too little of it, or the optimiser did not converge); ``code`` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class BgNbd:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    v: float
    log_likelihood: float


def _arrays(*columns) -> list[np.ndarray]:
    return [np.asarray(c, dtype=float) for c in columns]


def bgnbd_log_likelihood_terms(params, x, t_x, T) -> np.ndarray:
    """Each row's log-likelihood under BG/NBD (FHL 2005, eq. 6), in a numerically stable form."""
    r, alpha, a, b = params
    x, t_x, T = _arrays(x, t_x, T)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.gammaln(a + b) + special.gammaln(b + x) - special.gammaln(b) - special.gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    repeat = x > 0
    # log(a / (b + x - 1)) - (r + x) log(alpha + t_x), only where x > 0 (the second term is absent otherwise)
    a4 = np.where(
        repeat,
        np.log(a) - np.log(np.where(repeat, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x),
        -np.inf,
    )
    return a1 + a2 + np.logaddexp(a3, a4)


def _validate(x, t_x, T, weights) -> tuple[np.ndarray, ...]:
    x, t_x, T, weights = _arrays(x, t_x, T, weights)
    if not (x.shape == t_x.shape == T.shape == weights.shape) or x.ndim != 1:
        raise FitError("bad_input", "frequency, recency, T and counts must be one-dimensional and of one length")
    if not np.all(np.isfinite(np.concatenate([x, t_x, T, weights]))):
        raise FitError("bad_input", "inputs must be finite numbers")
    if np.any(x < 0) or np.any(t_x < 0) or np.any(t_x > T) or np.any(weights < 0) or np.any(x != np.round(x)):
        raise FitError("bad_input", "need whole frequency >= 0, 0 <= recency <= T and counts >= 0")
    if np.any((x == 0) & (t_x != 0)):
        raise FitError("bad_input", "a member without repeat purchases has recency 0")
    return x, t_x, T, weights


class _Distinct:
    """A column's distinct values and each row's index into them: a function of the column is computed once
    per distinct value (a few hundred days, a few dozen frequencies) and gathered, not once per row."""

    def __init__(self, column: np.ndarray) -> None:
        self.values, self.index = np.unique(column, return_inverse=True)

    def apply(self, function) -> np.ndarray:
        return function(self.values)[self.index]


def bgnbd_fit(x, t_x, T, weights, *, min_repeat_buyers: int = MIN_REPEAT_BUYERS) -> BgNbd:
    """Maximum-likelihood BG/NBD parameters for the rows (x, t_x, T), each standing for ``weights`` members."""
    x, t_x, T, weights = _validate(x, t_x, T, weights)
    repeaters = float(weights[x > 0].sum())
    if repeaters < min_repeat_buyers:
        raise FitError(
            "too_few_repeat_buyers",
            f"only {repeaters:.0f} members bought again (at least {min_repeat_buyers} needed): not fitted",
        )
    keep = (weights > 0) & (T > 0)
    x, t_x, T, weights = x[keep], t_x[keep], T[keep], weights[keep]
    total = weights.sum()
    # Start from a scale matched to the data: alpha ~ the mean observation time per purchase.
    scale = max(float((weights * T).sum() / max((weights * (x + 1)).sum(), 1.0)), 1e-6)
    dx, dt, dT = _Distinct(x), _Distinct(t_x), _Distinct(T)
    repeat = x > 0

    def objective(log_params: np.ndarray) -> float:
        r, alpha, a, b = np.exp(log_params)
        a1 = dx.apply(lambda v: special.gammaln(r + v)) - special.gammaln(r) + r * np.log(alpha)
        a2 = (
            special.gammaln(a + b)
            - special.gammaln(b)
            + dx.apply(lambda v: special.gammaln(b + v) - special.gammaln(a + b + v))
        )
        a3 = -(r + x) * dT.apply(lambda v: np.log(alpha + v))
        # The second term of the likelihood exists only where x > 0 (log(b + x - 1) may be NaN elsewhere).
        with np.errstate(divide="ignore", invalid="ignore"):
            a4 = np.where(
                repeat,
                np.log(a) - dx.apply(lambda v: np.log(b + v - 1)) - (r + x) * dt.apply(lambda v: np.log(alpha + v)),
                -np.inf,
            )
        value = -(weights * (a1 + a2 + np.logaddexp(a3, a4))).sum() / total
        return value if np.isfinite(value) else 1e100

    result = _minimise(objective, np.log([1.0, scale, 1.0, 1.0]))
    r, alpha, a, b = (float(v) for v in np.exp(result.x))
    return BgNbd(r=r, alpha=alpha, a=a, b=b, log_likelihood=float(-result.fun * total))


def _minimise(objective, start: np.ndarray):
    """L-BFGS-B on the log parameters (a few hundred evaluations); refuses a result that is not an optimum."""
    with np.errstate(all="ignore"):
        result = optimize.minimize(
            objective,
            start,
            method="L-BFGS-B",
            bounds=[(-15, 15)] * len(start),
            options={"ftol": 1e-13, "gtol": 1e-9, "maxiter": 2000},
        )
    at_bound = np.any(np.abs(result.x) >= 14.9)
    if not result.success or not np.all(np.isfinite(result.x)) or result.fun >= 1e99 or at_bound:
        why = "a parameter ran off to 0 or infinity" if at_bound else (result.message or "no optimum found")
        raise FitError("not_converged", f"the fit did not converge: {why}")
    return result


def gamma_gamma_log_likelihood_terms(params, x, m) -> np.ndarray:
    """Each repeat buyer's log-likelihood of the mean spend ``m`` over ``x`` repeat purchases (Fader & Hardie)."""
    p, q, v = params
    x, m = _arrays(x, m)
    px = p * x
    return (
        special.gammaln(px + q)
        - special.gammaln(px)
        - special.gammaln(q)
        + q * np.log(v)
        + (px - 1) * np.log(m)
        + px * np.log(x)
        - (px + q) * np.log(x * m + v)
    )


def gamma_gamma_fit(x, m, weights, *, min_repeat_buyers: int = MIN_REPEAT_BUYERS) -> GammaGamma:
    """Maximum-likelihood Gamma-Gamma parameters from the repeat buyers' (x, m) with counts ``weights``."""
    x, m, weights = _arrays(x, m, weights)
    if not (x.shape == m.shape == weights.shape) or x.ndim != 1:
        raise FitError("bad_input", "frequency, spend and counts must be one-dimensional and of one length")
    keep = (x > 0) & (m > 0) & (weights > 0)
    x, m, weights = x[keep], m[keep], weights[keep]
    if weights.sum() < min_repeat_buyers:
        raise FitError(
            "too_few_repeat_buyers",
            f"only {weights.sum():.0f} members spent on a repeat purchase (at least {min_repeat_buyers} needed)",
        )
    total = weights.sum()
    mean = float((weights * m).sum() / total)

    def objective(log_params: np.ndarray) -> float:
        value = -(weights * gamma_gamma_log_likelihood_terms(np.exp(log_params), x, m)).sum() / total
        return value if np.isfinite(value) else 1e100

    result = _minimise(objective, np.log([1.0, 2.0, mean]))
    p, q, v = (float(val) for val in np.exp(result.x))
    if q <= 1:
        raise FitError("not_converged", f"the spend model has no finite mean (q = {q:.3f} <= 1)")
    return GammaGamma(p=p, q=q, v=v, log_likelihood=float(-result.fun * total))


def p_alive(model: BgNbd, x, t_x, T) -> np.ndarray:
    """P(still active | x, t_x, T) (FHL 2005, eq. 13): 1 for a member who never bought again."""
    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(a) - np.log(b + x - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
    return np.where(x > 0, 1.0 / (1.0 + np.exp(np.where(x > 0, log_ratio, 0.0))), 1.0)


def expected_purchases(model: BgNbd, t: float, x, t_x, T) -> np.ndarray:
    """Expected purchases in the next ``t`` given (x, t_x, T) (FHL 2005, eq. 10)."""
    x, t_x, T = _arrays(x, t_x, T)
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    first = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * hyp)
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    return first / (1 + odds)


def expected_purchases_new(model: BgNbd, t) -> np.ndarray:
    """Expected purchases of a newly acquired member in a period of length ``t`` (FHL 2005, eq. 9)."""
    t = np.asarray(t, dtype=float)
    r, alpha, a, b = model.r, model.alpha, model.a, model.b
    hyp = special.hyp2f1(r, b, a + b - 1, t / (alpha + t))
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp)


def expected_spend(model: GammaGamma, x, m) -> np.ndarray:
    """Expected spend per purchase given x repeat purchases of mean ``m`` (the population mean when x = 0)."""
    x, m = _arrays(x, m)
    p, q, v = model.p, model.q, model.v
    return p * (v + x * m) / (p * x + q - 1)
