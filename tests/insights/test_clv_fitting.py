"""BG/NBD and Gamma-Gamma against the published CDNOW results, simulated data and the closed forms."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from apps.insights.clv import fitting

DATA = Path(__file__).resolve().parent / "data"
PAPER = fitting.BgNbd(r=0.243, alpha=4.414, a=0.793, b=2.426, log_likelihood=float("nan"))


def cdnow_calibration() -> tuple[list, ...]:
    """(x, t_x, T in weeks, m) of the 2,357 CDNOW customers, calibration to the end of week 39 (1997-09-30);
    purchases on one day are one transaction, as in Fader & Hardie's data set."""
    spend: dict[int, dict[date, float]] = defaultdict(dict)
    for line in (DATA / "cdnow_sample.txt").read_text().splitlines():
        if line.strip():
            customer, _sample, day, _cds, value = line.split()
            d = date(int(day[:4]), int(day[4:6]), int(day[6:]))
            spend[int(customer)][d] = spend[int(customer)].get(d, 0.0) + float(value)
    end = date(1997, 9, 30)
    x, t_x, T, m = [], [], [], []
    for days in spend.values():
        calibration = sorted(d for d in days if d <= end)
        x.append(len(calibration) - 1)
        t_x.append((calibration[-1] - calibration[0]).days / 7)
        T.append((end - calibration[0]).days / 7)
        m.append(sum(days[d] for d in calibration[1:]) / (len(calibration) - 1) if len(calibration) > 1 else 0.0)
    return x, t_x, T, m


def test_cdnow_reproduces_the_published_bgnbd_and_gamma_gamma_parameters():
    x, t_x, T, m = cdnow_calibration()
    assert len(x) == 2357

    bg = fitting.bgnbd_fit(x, t_x, T, np.ones(len(x)))
    gg = fitting.gamma_gamma_fit(x, m, np.ones(len(x)))

    # Fader, Hardie & Lee (2005): r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
    assert (round(bg.r, 2), round(bg.alpha, 2), round(bg.a, 2), round(bg.b, 2)) == (0.24, 4.41, 0.79, 2.43)
    assert abs(bg.r - 0.243) < 0.001 and abs(bg.alpha - 4.414) < 0.001
    assert abs(bg.a - 0.793) < 0.001 and abs(bg.b - 2.426) < 0.001
    assert round(bg.log_likelihood, 1) == -9582.4
    # Fader & Hardie, "The Gamma-Gamma model of monetary value" (2013): p = 6.25, q = 3.74, gamma = 15.44
    assert (round(gg.p, 2), round(gg.q, 2), round(gg.v, 2)) == (6.25, 3.74, 15.44)


def test_fitting_the_distinct_triples_with_counts_equals_fitting_every_customer():
    x, t_x, T, _m = cdnow_calibration()
    triples: dict[tuple, int] = defaultdict(int)
    for row in zip(x, t_x, T, strict=True):
        triples[row] += 1
    keys = list(triples)
    grouped = fitting.bgnbd_fit(*zip(*keys, strict=True), [triples[k] for k in keys])
    assert len(keys) < len(x)
    assert abs(grouped.r - 0.243) < 0.001 and abs(grouped.b - 2.426) < 0.001
    assert round(grouped.log_likelihood, 1) == -9582.4


def test_p_alive_equals_the_closed_form():
    # FHL 2005 eq. 13 by hand: 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    by_hand = 1 / (1 + 0.793 / (2.426 + 2 - 1) * ((4.414 + 38.86) / (4.414 + 30.43)) ** (0.243 + 2))
    assert by_hand == pytest.approx(0.72658, abs=1e-5)
    ours = fitting.p_alive(PAPER, [2, 0, 5], [30.43, 0, 10.0], [38.86, 38.86, 38.86])
    assert ours[0] == pytest.approx(by_hand, rel=1e-12)
    assert ours[1] == 1.0  # never bought again: BG/NBD cannot have seen them drop out
    assert ours[2] == pytest.approx(1 / (1 + 0.793 / 6.426 * (43.274 / 14.414) ** 5.243), rel=1e-12)


def _hyp2f1_series(a: float, b: float, c: float, z: float) -> float:
    """Gauss's series, summed by hand (z < 1), independent of scipy."""
    term, total, n = 1.0, 1.0, 0
    while abs(term) > 1e-16 * abs(total):
        term *= (a + n) * (b + n) / ((c + n) * (n + 1)) * z
        total += term
        n += 1
    return total


def test_expected_purchases_equal_the_closed_form_and_the_published_example():
    r, alpha, a, b = PAPER.r, PAPER.alpha, PAPER.a, PAPER.b
    x, t_x, T, t = 2, 30.43, 38.86, 39
    f = _hyp2f1_series(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    by_hand = ((a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * f)) / (
        1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    )
    ours = fitting.expected_purchases(PAPER, t, [x], [t_x], [T])[0]
    assert ours == pytest.approx(by_hand, rel=1e-9)
    assert round(ours, 3) == 1.226  # the paper's worked example: 1.226 purchases in the next 39 weeks
    # A member who never bought again: the same formula with the P(alive) term absent.
    f0 = _hyp2f1_series(r, b, a + b - 1, t / (alpha + T + t))
    by_hand0 = (a + b - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** r * f0)
    assert fitting.expected_purchases(PAPER, t, [0], [0], [T])[0] == pytest.approx(by_hand0, rel=1e-9)


def test_expected_spend_is_the_gamma_gamma_weighted_mean():
    gg = fitting.GammaGamma(p=6.25, q=3.74, v=15.44, log_likelihood=0.0)
    population = 6.25 * 15.44 / (3.74 - 1)
    assert fitting.expected_spend(gg, [0], [0])[0] == pytest.approx(population)
    weight = 6.25 * 3 / (6.25 * 3 + 3.74 - 1)
    assert fitting.expected_spend(gg, [3], [40.0])[0] == pytest.approx((1 - weight) * population + weight * 40.0)


def simulate_bgnbd(rng, *, n: int, r: float, alpha: float, a: float, b: float, T_max: float):
    """Members drawn from the model itself: rate ~ Gamma(r, alpha), dropout ~ Beta(a, b) after each purchase."""
    lam = rng.gamma(r, 1 / alpha, n)
    p = rng.beta(a, b, n)
    T = np.floor(rng.uniform(30, T_max, n))
    x = np.zeros(n)
    t_x = np.zeros(n)
    for i in range(n):
        now, alive = 0.0, True
        while alive:
            now += rng.exponential(1 / lam[i])
            if now > T[i]:
                break
            x[i] += 1
            t_x[i] = now
            alive = rng.random() > p[i]
    return x, np.floor(t_x), T


def test_known_parameters_are_recovered_from_simulated_data():
    rng = np.random.default_rng(7)
    x, t_x, T = simulate_bgnbd(rng, n=20000, r=0.6, alpha=40.0, a=0.9, b=3.0, T_max=700)
    bg = fitting.bgnbd_fit(x, t_x, T, np.ones(len(x)))
    assert bg.r == pytest.approx(0.6, rel=0.1)
    assert bg.alpha == pytest.approx(40.0, rel=0.15)
    assert bg.a == pytest.approx(0.9, rel=0.2)
    assert bg.b == pytest.approx(3.0, rel=0.25)

    # Gamma-Gamma: each buyer's spend ~ Gamma(p, nu), nu ~ Gamma(q, v)
    repeat = x > 0
    nu = rng.gamma(3.0, 1 / 20.0, repeat.sum())
    m = np.array([rng.gamma(4.0, 1 / nu_i, int(k)).mean() for nu_i, k in zip(nu, x[repeat], strict=True)])
    gg = fitting.gamma_gamma_fit(x[repeat], m, np.ones(len(m)))
    assert gg.p == pytest.approx(4.0, rel=0.1)
    assert gg.q == pytest.approx(3.0, rel=0.15)
    assert gg.v == pytest.approx(20.0, rel=0.2)


def test_too_few_repeat_buyers_is_refused_not_fitted():
    with pytest.raises(fitting.FitError) as exc:
        fitting.bgnbd_fit([0, 0, 1, 2], [0, 0, 5, 9], [30, 40, 50, 60], [100, 50, 3, 2])
    assert exc.value.code == "too_few_repeat_buyers"
    assert "only 5 members bought again" in exc.value.message


@pytest.mark.parametrize(
    ("x", "t_x", "T", "why"),
    [
        ([1, 2], [5, 90], [30, 60], "recency <= T"),
        ([-1, 2], [0, 5], [30, 60], "frequency >= 0"),
        ([0, 2], [4, 5], [30, 60], "recency 0"),
        ([1.5, 2], [4, 5], [30, 60], "whole frequency"),
        ([1, float("nan")], [4, 5], [30, 60], "finite"),
    ],
)
def test_bad_inputs_are_refused_with_the_reason(x, t_x, T, why):
    with pytest.raises(fitting.FitError) as exc:
        fitting.bgnbd_fit(x, t_x, T, [50, 50], min_repeat_buyers=1)
    assert exc.value.code == "bad_input"
    assert why in exc.value.message


def test_a_fit_that_runs_off_to_a_boundary_is_reported_as_not_converged():
    # Everybody buys every single day and has never stopped: no finite dropout or heterogeneity explains it.
    T = np.arange(30, 90, dtype=float)
    with pytest.raises(fitting.FitError) as exc:
        fitting.bgnbd_fit(T, T, T, np.full(len(T), 10.0))
    assert exc.value.code == "not_converged"
