import math

import numpy as np
import pandas as pd
import pytest

from zfviz.analysis.ablations import PARTS, comparable_rows, part_statistics, takeoff_epochs
from zfviz.paper import TABLE3


def test_parts_name_only_table3_rows():
    for rows, _ in PARTS.values():
        assert set(rows) <= set(TABLE3.index)


def test_takeoff_is_the_first_epoch_above_chance_and_rows_need_an_early_one():
    curves = pd.DataFrame({"run": ["a"] * 4 + ["b"] * 4, "model": ["zf"] * 4 + ["zf-wide"] * 4,
                           "init": "paper", "seed": 0, "epoch": [1, 2, 3, 4] * 2,
                           "val_top1": [10, 12, 40, 60, 10, 10, 11, 12]})
    t = takeoff_epochs(curves, chance=10.0, margin=5.0)
    assert t.set_index("run").takeoff["a"] == 3 and math.isnan(t.set_index("run").takeoff["b"])
    ok = comparable_rows(t, share=0.75)
    assert ok["zf"] and not ok["zf-wide"]  # never left chance: not comparable
    assert not comparable_rows(t, share=0.5)["zf"]  # epoch 3 of 4 is past half the budget


def test_part_statistics_match_the_paper_on_its_own_numbers_and_resample_seeds():
    # the paper's Table 3 as if it were three identical seeds per row: the CIs collapse onto the paper's statistics
    errs = pd.DataFrame([{"model": m, "seed": s, "val_err": r.val_top1_err, "train_err": r.train_top1_err}
                         for m, r in TABLE3.iterrows() for s in range(3)])
    st = part_statistics(errs).set_index("part")
    assert st.estimate["C2a"] == pytest.approx(71.3 - 45.4)
    assert st.estimate["C2c"] == pytest.approx(38.4 - 37.5)
    assert st.estimate["C2e"] == pytest.approx(44.8 - 40.5)
    assert (st.ci_low == st.estimate).all() and (st.ci_high == st.estimate).all() and (st.seeds == 3).all()
    # seed noise widens the CI around the seed mean
    rng = np.random.default_rng(0)
    noisy = errs.assign(val_err=errs.val_err + rng.normal(0, 1, len(errs)))
    st2 = part_statistics(noisy).set_index("part")
    assert (st2.ci_low < st2.estimate).all() and (st2.estimate < st2.ci_high).all()
    # a missing row leaves its parts out
    assert "C2c" not in set(part_statistics(errs[errs.model != "zf-wide"]).part)
