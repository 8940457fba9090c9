"""Generate the drift fixtures (stages/tests/drift_tests/fixtures.rs) for stages/src/drift/stattests.rs from SciPy and Evidently's own stattest functions.

Inputs come from a SplitMix64 generator with exact-arithmetic transforms, mirrored
bit-for-bit in the Rust tests (struct Gen / fn gen), so large cases are stored as a
generator spec; small cases are also written out inline as arrays.

Regenerate (scipy 1.17.1, numpy 2.4.6, pandas 2.2.3, evidently 0.7.23 installed):

    python3 bench/drift_fixtures.py

writes stages/tests/drift_tests/fixtures.rs, which `cargo test -p churnflow-stages --test drift_tests`
checks stages/src/drift/stattests.rs against (1e-9 absolute or relative).
"""
import math
import os
import warnings

import numpy as np
import pandas as pd
from scipy import stats

from evidently.legacy.calculations.stattests.chisquare_stattest import _chi_stat_test
from evidently.legacy.calculations.stattests.jensenshannon import _jensenshannon
from evidently.legacy.calculations.stattests.ks_stattest import _ks_stat_test
from evidently.legacy.calculations.stattests.psi import _psi
from evidently.legacy.calculations.stattests.registry import _get_default_stattest
from evidently.legacy.calculations.stattests.wasserstein_distance_norm import _wasserstein_distance_norm
from evidently.legacy.calculations.stattests.z_stattest import _z_stat_test
from evidently.legacy.core import ColumnType

warnings.simplefilter("ignore")
M64 = (1 << 64) - 1
INLINE_MAX = 600  # write arrays inline when n <= this


class Gen:
    def __init__(self, seed):
        self.s = seed

    def next(self):
        self.s = (self.s + 0x9E3779B97F4A7C15) & M64
        z = self.s
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        return z ^ (z >> 31)

    def unif(self):
        return (self.next() >> 11) * (1.0 / 9007199254740992.0)


def gen(seed, n, kind, a, b):
    """kind 0: ((u1+u2+u3+u4)-2)*a+b ; 1: floor(u*a)+b ; 2: u*u*a+b ; 3: floor(u*u*a)+b"""
    g = Gen(seed)
    out = []
    for _ in range(n):
        if kind == 0:
            s = ((g.unif() + g.unif()) + g.unif()) + g.unif()
            out.append((s - 2.0) * a + b)
        elif kind == 1:
            out.append(math.floor(g.unif() * a) + b)
        elif kind == 2:
            u = g.unif()
            out.append(u * u * a + b)
        else:
            u = g.unif()
            out.append(math.floor(u * u * a) + b)
    return out


def rlit(x):
    x = float(x)
    if math.isnan(x):
        return "f64::NAN"
    if math.isinf(x):
        return "f64::INFINITY" if x > 0 else "f64::NEG_INFINITY"
    r = repr(x)
    if "e" not in r and "." not in r:
        r += ".0"
    return r


CASES = []


def data_lit(spec):
    seed, n, kind, a, b = spec
    if n <= INLINE_MAX:
        vals = gen(*spec)
        return "Data::Inline(&[" + ", ".join(rlit(v) for v in vals) + "])"
    return f"Data::Gen(Spec {{ seed: {seed}, n: {n}, kind: {kind}, a: {rlit(a)}, b: {rlit(b)} }})"


def add(label, stat, ref_spec, cur_spec, expected, int_dtype=False, cat=False, name=""):
    CASES.append((label, stat, ref_spec, cur_spec, expected, int_dtype, cat, name))


_cache = {}


def series(spec, strings=False, int_dtype=False):
    key = spec
    if key not in _cache:
        _cache[key] = gen(*spec)
    vals = _cache[key]
    if strings:
        return pd.Series(["c%d" % int(v) for v in vals])
    s = pd.Series(np.array(vals, dtype=np.float64))
    if int_dtype:
        s = s.astype(np.int64)
    return s


def main():
    NUM = ColumnType.Numerical
    CAT = ColumnType.Categorical

    # ---------------------------------------------------------------- KS
    ks_cases = [
        ("ks 30/45 same", (1, 30, 0, 1.0, 0.0), (2, 45, 0, 1.0, 0.0)),
        ("ks 30/45 shift", (3, 30, 0, 1.0, 0.0), (4, 45, 0, 1.0, 0.8)),
        ("ks 40/40 shift", (5, 40, 0, 1.0, 0.0), (6, 40, 0, 1.0, 0.5)),
        ("ks 40/40 ties", (7, 40, 1, 6.0, 0.0), (8, 40, 1, 7.0, 0.0)),
        ("ks 500/500 same", (9, 500, 0, 1.0, 0.0), (10, 500, 0, 1.0, 0.0)),
        ("ks 500/500 shift", (11, 500, 0, 1.0, 0.0), (12, 500, 0, 1.0, 0.2)),
        ("ks 800/1200 shift", (13, 800, 0, 1.0, 0.0), (14, 1200, 0, 1.0, 0.1)),
        ("ks 3000/2000 shift (exact)", (15, 3000, 0, 1.0, 0.0), (16, 2000, 0, 1.0, 0.05)),
        ("ks 3000/2000 same (exact)", (17, 3000, 2, 1.0, 0.0), (18, 2000, 2, 1.0, 0.0)),
        ("ks 10000/9999 shift (exact)", (19, 10000, 0, 1.0, 0.0), (20, 9999, 0, 1.0, 0.03)),
        ("ks 12000/9000 shift (asymp)", (21, 12000, 0, 1.0, 0.0), (22, 9000, 0, 1.0, 0.02)),
        ("ks 12000/9000 same (asymp)", (23, 12000, 0, 1.0, 0.0), (24, 9000, 0, 1.0, 0.0)),
        ("ks 15000/300 shift (asymp)", (25, 15000, 0, 1.0, 0.0), (26, 300, 0, 1.0, 0.15)),
        ("ks 20000/50 shift (asymp n<=140)", (27, 20000, 0, 1.0, 0.0), (28, 50, 0, 1.0, 0.25)),
        ("ks 20000/50 same (asymp n<=140)", (29, 20000, 0, 1.0, 0.0), (30, 50, 0, 1.0, 0.0)),
        ("ks 20000/30 same2 (asymp n<=140)", (31, 20000, 0, 1.0, 0.0), (32, 30, 0, 1.0, 0.05)),
        ("ks 20000/120 ties (asymp)", (33, 20000, 1, 20.0, 0.0), (34, 120, 1, 20.0, 1.0)),
        ("ks 11000/11000 shift (asymp smirnov)", (35, 11000, 0, 1.0, 0.0), (36, 11000, 0, 1.0, 0.03)),
        ("ks 250k/250k same (pelz-good)", (37, 250000, 2, 1.0, 0.0), (38, 250000, 2, 1.0, 0.0)),
        ("ks 250k/250k shift (smirnov)", (39, 250000, 2, 1.0, 0.0), (40, 250000, 2, 1.0, 3e-5)),
        ("ks 2.1M/2.1M shift (smirnov approx)", (41, 2100000, 2, 1.0, 0.0), (42, 2100000, 2, 1.0, 3.6e-6)),
        ("ks 2.1M/2.1M same", (43, 2100000, 2, 1.0, 0.0), (44, 2100000, 2, 1.0, 0.0)),
    ]
    for label, rs, cs in ks_cases:
        r, c = series(rs), series(cs)
        res = stats.ks_2samp(r.values, c.values)
        p_ev = _ks_stat_test(r, c, NUM, 0.05)[0]
        assert float(p_ev) == float(res.pvalue)
        add(label, "ks_p", rs, cs, p_ev)
        add(label, "ks_d", rs, cs, res.statistic)
        print(label, float(res.statistic), float(p_ev))
    _cache.clear()

    # ---------------------------------------------------------------- Wasserstein
    for label, rs, cs in [
        ("wd 30/45 shift", (101, 30, 0, 1.0, 0.0), (102, 45, 0, 1.0, 0.3)),
        ("wd 500/500 same", (103, 500, 0, 2.0, 5.0), (104, 500, 0, 2.0, 5.0)),
        ("wd 3000/2000 shift", (105, 3000, 0, 1.0, 0.0), (106, 2000, 0, 1.3, 0.1)),
        ("wd 12000/9000 skew", (107, 12000, 2, 10.0, 0.0), (108, 9000, 2, 12.0, 0.0)),
        ("wd 2000/2000 ties", (109, 2000, 1, 9.0, 0.0), (110, 2000, 3, 9.0, 0.0)),
        ("wd constant ref (std floor)", (111, 1500, 1, 1.0, 3.0), (112, 1500, 0, 0.01, 3.0)),
    ]:
        r, c = series(rs), series(cs)
        add(label, "wasserstein", rs, cs, _wasserstein_distance_norm(r, c, NUM, 0.1)[0])

    # ---------------------------------------------------------------- chi-square / z (strings)
    for label, rs, cs in [
        ("chi 2 values", (201, 300, 1, 2.0, 0.0), (202, 250, 3, 2.0, 0.0)),
        ("chi 3 values", (203, 300, 1, 3.0, 0.0), (204, 400, 3, 3.0, 0.0)),
        ("chi 3 values same", (205, 500, 1, 3.0, 0.0), (206, 500, 1, 3.0, 0.0)),
        ("chi 8 values, one ref-only", (207, 800, 1, 8.0, 0.0), (208, 700, 1, 7.0, 0.0)),
        ("chi 8 values, cur-only key (inf)", (209, 800, 1, 8.0, 0.0), (210, 700, 1, 8.0, 1.0)),
        ("chi 9 values big", (211, 5000, 3, 9.0, 0.0), (212, 4000, 1, 9.0, 0.0)),
    ]:
        r, c = series(rs, strings=True), series(cs, strings=True)
        add(label, "chisquare", rs, cs, _chi_stat_test(r, c, CAT, 0.05)[0])
    for label, rs, cs in [
        ("chi num 5 values", (221, 900, 1, 5.0, 0.0), (222, 800, 3, 5.0, 0.0)),
    ]:
        r, c = series(rs), series(cs)
        add(label, "chisquare_num", rs, cs, _chi_stat_test(r, c, NUM, 0.05)[0])

    for label, rs, cs in [
        ("z 2 values same dist", (301, 400, 1, 2.0, 0.0), (302, 300, 1, 2.0, 0.0)),
        ("z 2 values shifted", (303, 400, 1, 2.0, 0.0), (304, 300, 3, 2.0, 0.0)),
        ("z same single value", (305, 50, 1, 1.0, 4.0), (306, 60, 1, 1.0, 4.0)),
        ("z disjoint single values", (307, 10, 1, 1.0, 0.0), (308, 7, 1, 1.0, 1.0)),
        ("z ref single, cur two", (309, 40, 1, 1.0, 0.0), (310, 30, 1, 2.0, 0.0)),
        ("z 3 values (keys[0]=min)", (311, 400, 1, 3.0, 0.0), (312, 300, 3, 3.0, 0.0)),
    ]:
        r, c = series(rs, strings=True), series(cs, strings=True)
        add(label, "z", rs, cs, _z_stat_test(r, c, CAT, 0.05)[0])

    # ---------------------------------------------------------------- JS / PSI numerical
    for label, rs, cs, intd in [
        ("num 500/500 shift >20 distinct", (401, 500, 0, 1.0, 0.0), (402, 500, 0, 1.0, 0.3), False),
        ("num 3000/2000 >20 distinct", (403, 3000, 0, 1.0, 0.0), (404, 2000, 0, 1.2, 0.0), False),
        ("num 12000/9000 skew", (405, 12000, 2, 5.0, 0.0), (406, 9000, 2, 6.0, -0.5), False),
        ("num 2000/1500 10 ints", (407, 2000, 1, 10.0, 0.0), (408, 1500, 3, 10.0, 1.0), False),
        ("num 2000/1500 20 ints", (409, 2000, 1, 20.0, 0.0), (410, 1500, 1, 20.0, 0.0), False),
        ("num 3000/2000 25 ints float dtype", (411, 3000, 1, 25.0, 0.0), (412, 2000, 3, 25.0, 0.0), False),
        ("num 3000/2000 25 ints int dtype", (411, 3000, 1, 25.0, 0.0), (412, 2000, 3, 25.0, 0.0), True),
        ("num ref 21 ints, cur constant", (413, 300, 1, 21.0, 0.0), (414, 100, 1, 1.0, 7.0), False),
    ]:
        r, c = series(rs, int_dtype=intd), series(cs, int_dtype=intd)
        add(label, "js_num", rs, cs, _jensenshannon(r, c, NUM, 0.1)[0], int_dtype=intd)
        add(label, "psi_num", rs, cs, _psi(r, c, NUM, 0.1)[0], int_dtype=intd)

    # ---------------------------------------------------------------- JS / PSI categorical
    for label, rs, cs in [
        ("cat 2 values", (501, 1500, 1, 2.0, 0.0), (502, 1200, 3, 2.0, 0.0)),
        ("cat 3 values", (503, 1500, 1, 3.0, 0.0), (504, 1200, 3, 3.0, 0.0)),
        ("cat 8 values one-sided keys", (505, 3000, 1, 8.0, 0.0), (506, 2500, 3, 8.0, 1.0)),
        ("cat 9 values tiny shares", (507, 20000, 3, 9.0, 0.0), (508, 20000, 1, 9.0, 0.0)),
    ]:
        r, c = series(rs, strings=True), series(cs, strings=True)
        add(label, "js_cat", rs, cs, _jensenshannon(r, c, CAT, 0.1)[0])
        add(label, "psi_cat", rs, cs, _psi(r, c, CAT, 0.1)[0])

    # ---------------------------------------------------------------- default method choice
    for label, rs, cs, cat in [
        ("default num 1000 rows 6 values", (601, 1000, 1, 6.0, 0.0), (602, 200, 1, 6.0, 0.0), False),
        ("default num 1000 rows 5 values", (603, 1000, 1, 5.0, 0.0), (604, 200, 1, 5.0, 0.0), False),
        ("default num 1000 rows 2 values", (605, 1000, 1, 2.0, 0.0), (606, 200, 1, 2.0, 0.0), False),
        ("default num 1001 rows 6 values", (607, 1001, 1, 6.0, 0.0), (608, 200, 1, 6.0, 0.0), False),
        ("default num 1001 rows 5 values", (609, 1001, 1, 5.0, 0.0), (610, 200, 1, 5.0, 0.0), False),
        ("default num 1001 rows 5+1 values", (611, 1001, 1, 5.0, 0.0), (612, 200, 1, 5.0, 1.0), False),
        ("default cat 500 rows 3 values", (613, 500, 1, 3.0, 0.0), (614, 200, 1, 3.0, 0.0), True),
        ("default cat 500 rows 2 values", (615, 500, 1, 2.0, 0.0), (616, 200, 1, 2.0, 0.0), True),
        ("default cat 5000 rows 30 values", (617, 5000, 1, 30.0, 0.0), (618, 200, 1, 30.0, 0.0), True),
    ]:
        r, c = series(rs, strings=cat), series(cs, strings=cat)
        st = _get_default_stattest(r, c, CAT if cat else NUM)
        add(label, "default", rs, cs, float("nan"), cat=cat, name=st.name)

    # ---------------------------------------------------------------- write
    out = [
        "// @generated by bench/drift_fixtures.py (scipy %s, numpy %s, pandas %s, evidently %s) -- do not edit"
        % (__import__("scipy").__version__, np.__version__, pd.__version__, __import__("evidently").__version__),
        "#[allow(dead_code)]",
        "struct Spec { seed: u64, n: usize, kind: u8, a: f64, b: f64 }",
        "#[allow(dead_code)]",
        "enum Data { Inline(&'static [f64]), Gen(Spec) }",
        "#[allow(dead_code)]",
        "struct Case { label: &'static str, stat: &'static str, reference: Data, current: Data, expected: f64, int_dtype: bool, cat: bool, name: &'static str }",
        "#[rustfmt::skip]",
        "const CASES: &[Case] = &[",
    ]
    for label, stat, rs, cs, expected, intd, cat, name in CASES:
        out.append(
            f"    Case {{ label: {label!r}, stat: {stat!r}, reference: {data_lit(rs)}, current: {data_lit(cs)}, "
            f"expected: {rlit(expected)}, int_dtype: {str(intd).lower()}, cat: {str(cat).lower()}, name: {name!r} }},".replace(
                "'", '"'
            )
        )
    out.append("];")
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "stages", "tests", "drift_tests", "fixtures.rs")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")
    print("wrote", path, os.path.getsize(path), "bytes,", len(CASES), "cases")


if __name__ == "__main__":
    main()
