"""``percentiles`` gives np.percentile's numbers, bit for bit."""

import numpy as np
import pytest

from gdviz.core.quantiles import percentiles

QS = (0.0, 0.5, 1.0, 25.0, 50.0, 99.0, 99.5, 100.0)


@pytest.mark.parametrize("n", [1, 2, 3, 7, 200, 401, 160_000])
def test_same_numbers_as_numpy(n):
    rng = np.random.default_rng(n)
    for a in (rng.standard_normal(n), np.exp(20 * rng.random(n)), rng.integers(0, 5, n) * 1.0):
        got = percentiles(a, QS)
        want = np.percentile(a, QS)
        assert got.tobytes() == want.tobytes()


def test_leaves_its_input_alone():
    a = np.array([3.0, 1.0, 2.0])
    percentiles(a, (50.0,))
    assert a.tolist() == [3.0, 1.0, 2.0]


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="Invalid array"):
        percentiles(np.array([]), (50.0,))
    with pytest.raises(ValueError, match="Invalid percentiles"):
        percentiles(np.ones(3), (101.0,))
