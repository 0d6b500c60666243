"""Invariance sweeps, correspondence scores and linear probes."""

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from zfviz.analysis.correspondence import (
    correspondence,
    mask_square,
    random_centres,
    sign_change_consistency,
    summarize,
)
from zfviz.analysis.invariance import invariance, transform
from zfviz.analysis.probes import layer_features, probe, span_basis
from zfviz.analysis.topk import readouts
from zfviz.data.sets import center_crop, few_shot_split, pixel_mean
from zfviz.model.models import zfnet


@pytest.fixture(scope="module")
def setup():
    torch.manual_seed(0)
    model = zfnet(4, width=0.125, input_size=64, init="kaiming").eval()
    images = torch.randint(0, 256, (3, 3, 72, 72), dtype=torch.uint8)
    return model, images, pixel_mean(images)


def test_transforms():
    img = torch.randint(0, 256, (3, 20, 20), dtype=torch.uint8)
    shifted = transform(img, "translate", 3)
    assert torch.equal(shifted[:, 3:], img[:, :-3])  # content moves down by 3 rows
    assert torch.equal(transform(img, "rotate", 0), img) and torch.equal(transform(img, "scale", 1.0), img)
    assert not torch.equal(transform(img, "rotate", 90), img)
    with pytest.raises(ValueError, match="valid: translate, scale, rotate"):
        transform(img, "shear", 1)


def test_invariance_statistics_orientation(setup):
    from zfviz.analysis.invariance import invariance_statistics

    model, images, mean = setup
    sweeps = {"translate": [0.0, 10.0], "scale": [1.0, 1.1], "rotate": [0.0, 10.0, 90.0]}
    df = pd.concat([invariance(model, images, torch.tensor([0, 1, 2]), mean, 64, sweeps).assign(seed=s)
                    for s in (0, 1)])
    # plant a rotation drop on images 0 and 1 and none on the "symmetric" class 2
    df.loc[(df.transformation == "rotate") & (df.amount > 0) & (df.label < 2), "prob_true"] -= 0.3
    st = invariance_statistics(df, symmetric=2).set_index("part")
    assert st.loc["C4b", "estimate"] > 0.25 and st.loc["C4b", "images"] == 2
    assert st.loc["C4c", "estimate"] > 0.25 and st.loc["C4c", "images"] == 1 and st.loc["C4a", "seeds"] == 2
    assert invariance_statistics(df.iloc[:0]).images.eq(0).all()


def test_invariance_identity_rows(setup):
    model, images, mean = setup
    sweeps = {"translate": [0.0, 20.0], "scale": [1.0, 1.5], "rotate": [0.0, 45.0]}
    df = invariance(model, images, torch.tensor([0, 1, 2]), mean, 64, sweeps)
    assert set(df.columns) == {"image", "label", "transformation", "amount", "dist_conv1", "dist_fc7", "rel_conv1", "rel_fc7",
                               "prob_true"}
    assert np.allclose(df.rel_conv1[df.dist_conv1 > 0] > 0, True)
    assert len(df) == 3 * 6
    ident = df[df.amount.isin([0.0, 1.0]) & ~((df.transformation == "translate") & (df.amount == 1.0))]
    assert np.allclose(ident[["dist_conv1", "dist_fc7"]].to_numpy(), 0, atol=1e-4)
    moved = df[~df.index.isin(ident.index)]
    assert (moved.dist_conv1 > 0).all()
    p = model(center_crop(images, mean, 64)).softmax(-1)
    first = df[(df.image == 1) & (df.transformation == "rotate") & (df.amount == 0.0)].prob_true.item()
    assert first == pytest.approx(float(p[1, 1]), rel=1e-5)


def test_sign_change_consistency_normalization():
    eps = torch.tensor([[1.0, -1.0, 2.0, 0.0], [1.0, 1.0, 3.0, 0.0], [-1.0, 1.0, -1.0, 5.0]])
    mean, std, d = sign_change_consistency(eps)
    assert d.tolist() == [0.25, 1.0, 0.75]
    # the paper's Delta = sum over ordered pairs i != j of Hamming distances; normalized by n(n-1)D it is the mean
    s = torch.sign(eps)
    delta = sum(int((s[i] != s[j]).sum()) for i in range(3) for j in range(3) if i != j)
    assert delta / (3 * 2 * 4) == pytest.approx(mean)
    assert std == pytest.approx(float(d.std()))


def test_correspondence_same_image_same_mask_is_perfectly_consistent(setup):
    model, images, mean = setup
    x = center_crop(images[:1], mean, 64).repeat(4, 1, 1, 1)
    g = torch.Generator().manual_seed(0)
    masks = {"same": [(30, 30)] * 4, "r0": random_centres(4, 64, 12, g), "r1": random_centres(4, 64, 12, g)}
    pairs = correspondence(model, x, masks, 12)
    assert list(pairs.columns) == ["location", "layer", "i", "j", "distance"] and len(pairs) == 3 * 2 * 6
    table = summarize(pairs, {"r0": "random", "r1": "random"})
    same = table[table.location == "same"]
    assert (same["mean"] == 0).all() and (same["count"] == 6).all()
    rnd = table[table.location == "random"]
    assert (rnd["count"] == 12).all() and set(table.layer) == {"conv5", "fc7"}
    pooled = pairs[pairs.location.isin(["r0", "r1"]) & (pairs.layer == "conv5")].distance
    assert rnd[rnd.layer == "conv5"]["mean"].item() == pytest.approx(pooled.mean())
    with pytest.raises(ValueError, match="outside the 64x64 image"):
        mask_square(x[0], (70, 3), 8)
    with pytest.raises(ValueError, match="has 2 centres for 4 images"):
        correspondence(model, x, {"eye": [(1, 1)] * 2}, 8)


def test_mask_square_region():
    img = torch.ones(3, 10, 10)
    m = mask_square(img, (5, 5), 4)
    assert m[:, 3:7, 3:7].abs().sum() == 0 and m.sum() == 3 * (100 - 16)


def test_probes_separate_separable_features_and_not_noise():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 30)
    x_good = rng.normal(size=(120, 20)) + 8 * np.eye(4, 20)[y]
    x_noise = rng.normal(size=(120, 20))
    good = probe(x_good, y, 10, splits=3)
    noise = probe(x_noise, y, 10, splits=3, classifier="softmax")
    assert good.accuracy.mean() > 95 and noise.accuracy.mean() < 50
    assert (good.train == 40).all() and (good.test == 80).all()
    with pytest.raises(ValueError, match="need more than k=30"):
        probe(x_good, y, 30)
    with pytest.raises(ValueError, match="valid: 'svm', 'softmax'"):
        probe(x_good, y, 5, classifier="knn")


@pytest.mark.parametrize("clf", [LinearSVC(C=0.01, max_iter=100_000, tol=1e-8),
                                 LogisticRegression(C=0.01, max_iter=10_000, tol=1e-10)])
def test_probes_in_the_span_of_the_training_rows_fit_exactly_as_on_all_features(clf):
    rng = np.random.default_rng(0)
    a, b, y = rng.normal(size=(40, 500)), rng.normal(size=(30, 500)), np.arange(40) % 4
    za, zb = span_basis(a, b)
    assert za.shape == (40, 40) and zb.shape == (30, 40)  # 500 features, 40 training rows
    full, span = clf.fit(a, y).decision_function(b), clf.fit(za, y).decision_function(zb)
    np.testing.assert_allclose(span, full, atol=1e-6 * np.abs(full).max())
    few = a[:, :20]
    assert span_basis(few, b[:, :20])[0] is few  # no more features than rows: left as they are


def test_few_shot_split_is_disjoint_capped_and_reproducible():
    y = np.repeat(np.arange(3), 10)
    tr, te = few_shot_split(y, 4, seed=1, split=0, max_test=3)
    assert len(set(tr) & set(te)) == 0 and len(tr) == 12 and len(te) == 9
    assert (np.bincount(y[tr]) == 4).all()
    again, _ = few_shot_split(y, 4, seed=1, split=0)
    other, _ = few_shot_split(y, 4, seed=1, split=1)
    assert (again == tr).all() and not (other == tr).all()
    with pytest.raises(ValueError, match="k must be a positive int"):
        few_shot_split(y, 0, seed=1, split=0)


def test_layer_features_shapes(setup):
    model, images, mean = setup
    f = layer_features(model, images, mean, 64, "conv1", pool_to=2, progress=False)
    assert f.shape == (3, model.conv1.out_channels * 4)
    f7 = layer_features(model, images, mean, 64, "fc7", progress=False)
    assert torch.allclose(f7, readouts(model, center_crop(images, mean, 64), ["fc7"])["fc7"])


def test_dog_landmarks_map_into_the_crop(tmp_path):
    from zfviz.analysis.correspondence import dog_faces, dog_landmarks

    full = dog_landmarks(224, 224)
    assert len(full) >= 20 and set(full.dataset) == {"imagenette-224", "imagewoof-224"}
    assert full.loc[0, "nose_y"] == 60 and full.loc[0, "right_eye_x"] == 74
    cpu = dog_landmarks(128, 112)
    assert cpu.loc[0, "nose_y"] == round(60 * 128 / 224 - 8)
    coords = cpu.drop(columns=["dataset", "file"]).to_numpy()
    assert (coords >= -8).all() and (coords <= 120).all()
    # the dog's right eye is on the image's left; eyes and nose inside the face box
    assert (full.right_eye_x < full.left_eye_x).all()
    for part in ("right_eye", "left_eye", "nose"):
        assert full[f"{part}_y"].between(full.face_y0, full.face_y1).all()
        assert full[f"{part}_x"].between(full.face_x0, full.face_x1).all()
    # a photo kept at its aspect ratio (e.g. 160 x 240): the nose keeps its place relative to the face
    wide = dog_landmarks(160, 160, sizes=[(160, 240)] * len(full))
    assert wide.loc[0, "nose_y"] == round(60 / 224 * 160)
    assert wide.loc[0, "nose_x"] == round(117 / 224 * 240 - 40)  # 240 wide, centre 160 kept: 40 px cut each side
    # only the dogs whose files exist are loaded
    images, marks = dog_faces(128, 112, {"imagenette-224": tmp_path})
    assert len(images) == len(marks) == 0


def test_part_consistency_sees_a_consistent_landmark():
    from zfviz.analysis.correspondence import part_consistency

    rows = [{"location": loc, "layer": "conv5", "i": i, "j": j, "distance": d}
            for i, j in ((0, 1), (0, 2), (1, 2)) for loc, d in (("nose", 0.1), ("random 0", 0.3), ("random 1", 0.5))]
    gap = part_consistency(pd.DataFrame(rows), "conv5")
    assert gap.shape == (1, 3) and np.allclose(gap, 0.3)


def test_filter_stats_flags_dead_filters(setup):
    import copy

    from zfviz.analysis.filters import filter_stats

    model, images, mean = setup
    model = copy.deepcopy(model)
    with torch.no_grad():
        model.conv1.weight[3].zero_()
        model.conv1.bias[3] = -1.0  # never fires
    df = filter_stats(model, images, mean, 64, "conv1")
    assert len(df) == model.conv1.out_channels and bool(df.dead[3]) and df.dead.sum() >= 1
    assert df.energy_share[3] == 0 and df.active[3] == 0
    assert not df.dead[df.active >= 0.01].any()


def test_top_energy_share_sees_one_dominant_filter():
    from zfviz.analysis.filters import top_energy_share

    w = torch.ones(48, 3, 7, 7)
    assert abs(top_energy_share(w) - 3 / 48) < 1e-6
    w[0] *= 100
    assert top_energy_share(w) > 0.99


def test_shift_change_is_zero_for_a_shift_invariant_input(setup):
    from zfviz.analysis.filters import shift_change

    model, images, mean = setup
    flat = torch.full((2, 3, 72, 72), 100, dtype=torch.uint8)  # a constant image looks the same after any shift
    assert float(shift_change(model, flat, mean.mean((1, 2), keepdim=True).expand(3, 72, 72), 64).abs().max()) < 1e-5
    assert float(shift_change(model, images, mean, 64).min()) > 0
    with pytest.raises(ValueError, match="no room"):
        shift_change(model, images, mean, images.shape[-1])


def test_layer_probes_rows_per_layer_classifier_k_and_split():
    from zfviz.analysis.probes import layer_probes

    torch.manual_seed(0)
    model = zfnet(3, width=0.125, input_size=64, init="kaiming").eval()
    images = torch.randint(0, 256, (30, 3, 72, 72), dtype=torch.uint8)
    labels = torch.arange(30) % 3
    df = layer_probes(model, images, labels, pixel_mean(images), 64, {"svm": ["conv1", "fc7"], "softmax": ["fc7"]},
                      [2, 4], splits=2)
    assert len(df) == (2 + 1) * 2 * 2
    assert set(df.groupby(["classifier", "layer"]).size().index) == {("svm", "conv1"), ("svm", "fc7"),
                                                                     ("softmax", "fc7")}
    assert (df[df.layer == "fc7"].features == model.fc7.out_features).all()


def test_object_boxes_are_valid_and_map_into_the_crop(tmp_path):
    from zfviz.data import annotations

    raw = annotations.read("object_boxes")
    assert len(raw) >= 100 and raw.file.is_unique
    assert ((raw.y0 < raw.y1) & (raw.x0 < raw.x1) & (raw[["y0", "x0"]] >= 0).all(axis=1)
            & (raw[["y1", "x1"]] <= raw.source_size.to_numpy()[:, None]).all(axis=1)).all()
    assert raw.file.str.split("/").str[1].value_counts().min() >= 10  # every class, 10 or more images
    cpu = annotations.to_crop(raw, list(annotations.BOX), 128, 112)
    assert cpu.loc[0, "y0"] == round(raw.y0[0] * 128 / 224 - 8)
    images, boxes = annotations.object_boxes(128, 112, {"imagenette-224": tmp_path})
    assert len(images) == len(boxes) == 0
    with pytest.raises(ValueError, match="unknown annotation 'faces'; valid: dog_landmarks, object_boxes"):
        annotations.read("faces")


def test_heldout_table_gives_accuracy_per_layer_and_the_depth_trend_per_class_set():
    from zfviz.analysis.probes import heldout_table

    layers = ["conv1", "conv2", "fc7"]
    rows = [{"classifier": "svm", "k": 5, "split": s, "seed": seed, "layer": layer, "probe_classes": name,
             "accuracy": 30 + 10 * i * (name == "source") + s + seed}
            for name in ("held out", "source") for seed in (0, 1, 2) for s in (0, 1) for i, layer in enumerate(layers)]
    t = heldout_table(pd.DataFrame(rows), layers)
    assert t.index.tolist() == ["held out", "source"] and t.loc["source", "fc7"] == pytest.approx(51.5)
    assert t.loc["source", "depth trend (rho)"] == pytest.approx(1.0) and t.loc["source", "seeds"] == 3
    assert np.isnan(t.loc["held out", "depth trend (rho)"])  # flat accuracy: no rank correlation to speak of
    from zfviz.analysis.probes import heldout_sentence

    assert "nan [nan, nan] on the other half" in heldout_sentence(t) and "1.00 [1.00, 1.00] on their own" in \
        heldout_sentence(t)


def test_clipping_manipulation_check_counts_what_clipping_would_renormalize():
    from zfviz.analysis.filters import filters_over_radius, max_weight_difference
    from zfviz.model.models import clip_feature_scale, zfnet

    torch.manual_seed(0)
    net = zfnet(10, width=0.125, input_size=64, init="kaiming")
    with torch.no_grad():
        net.conv1.weight[:2] *= 0  # two filters with RMS 0
        net.conv1.weight[2:5] = 0.5  # three with RMS 0.5
    before = filters_over_radius(net, 0.1)
    assert before >= 3 and filters_over_radius(net, 1.0) == 0
    twin = zfnet(10, width=0.125, input_size=64, init="kaiming")
    twin.load_state_dict(net.state_dict())
    assert max_weight_difference(net, twin) == 0
    with torch.no_grad():
        assert int(clip_feature_scale(twin, 0.1)) == before  # clipping renormalizes exactly those filters
    assert filters_over_radius(twin, 0.1 + 1e-6) == 0 and max_weight_difference(net, twin) > 0.3
    with pytest.raises(ValueError, match="different architectures"):
        max_weight_difference(net, zfnet(10, width=0.25, input_size=64))


def test_a_depth_trend_near_1_keeps_its_interval_within_the_range_of_a_correlation():
    from zfviz.analysis.probes import depth_trend, heldout_table
    from zfviz.evidence.stats import hierarchical_mean

    layers = ["conv1", "conv2", "conv3", "fc7"]
    swap = {"conv2": 2, "conv3": 1}  # one split of seed 2 ranks conv2 above conv3: rho 0.8, every other rho 1
    rows = [{"classifier": "svm", "k": 5, "split": s, "seed": seed, "layer": layer, "probe_classes": "source",
             "accuracy": 30 + 10 * (swap.get(layer, i) if (seed, s) == (2, 1) else i)}
            for seed in (0, 1, 2) for s in (0, 1) for i, layer in enumerate(layers)]
    df = pd.DataFrame(rows)
    assert hierarchical_mean(depth_trend(df, layers, 5))[2] > 1  # the interval of the mean, uncut, passes 1
    t = heldout_table(df, layers)
    assert t.loc["source", "rho CI high"] == 1.0 and t.loc["source", "rho CI low"] < t.loc["source", "depth trend (rho)"]


@pytest.mark.parametrize("fit,says", [(100.0, "every from-scratch network fits"), (60.0, "the baseline is undertrained")])
def test_c9_pairs_each_split_and_says_whether_the_baseline_learned_its_images(fit, says):
    from zfviz.analysis.probes import c9_evidence

    pre = pd.DataFrame([{"k": 1, "split": sp, "source_seed": s, "accuracy": 30.0 + s + sp}
                        for s in (0, 1, 2) for sp in (0, 1, 2)])
    scratch = pd.DataFrame([{"k": 1, "split": sp, "accuracy": 20.0 + sp, "train_top1": fit} for sp in (0, 1, 2)])
    ev = c9_evidence(pre, scratch, "cpu")
    assert ev.estimate == pytest.approx(11.0)  # pretrained 31 on average, scratch 20, paired by split
    assert says in ev.note


def test_convergence_sentence_quotes_each_gain_and_names_a_missing_long_run():
    from zfviz.experiment import describe_convergence

    row = {"model": "zf", "seed": 0, "epochs": 20, "val10_top1": 77.0, "long epochs": 40, "long val10_top1": 81.8,
           "gap (points)": 4.8, "long_run": "zf-long"}
    both = describe_convergence(pd.DataFrame([row, row | {"model": "alexnet", "val10_top1": 70.0,
                                                          "long val10_top1": 69.5, "gap (points)": -0.5}]))
    assert "zf 77.0% at 20 epochs, 81.8% at 40 (+4.8 points)" in both and "(-0.5 points)" in both
    assert "Not measured" not in both
    one = describe_convergence(pd.DataFrame([row, row | {"model": "alexnet", "long_run": ""}]))
    assert "zf 77.0%" in one and "Not measured for alexnet" in one
    assert "not trained yet" in describe_convergence(pd.DataFrame([row | {"long_run": ""}]))


def test_c3_note_carries_the_convergence_sentence():
    from zfviz.analysis.evolution import c3_evidence

    rows = [{"seed": s, "layer": layer, "channel": c, "epoch": e, "overlap": min(1.0, e / reach)}
            for s in (0, 1, 2) for layer, reach in (("conv1", 2), ("conv2", 2), ("conv4", 10), ("conv5", 10))
            for c in range(3) for e in (1, 2, 5, 10, 20)]
    ev = c3_evidence(pd.DataFrame(rows), "cpu", 20, "imagenette", convergence="Convergence: zf +4.8 points.")
    assert ev.estimate == 4 and ev.note.endswith("the CI spans that resolution. Convergence: zf +4.8 points.")
    assert c3_evidence(pd.DataFrame(rows), "cpu", 20, "imagenette").note.endswith("the CI spans that resolution.")
    # seeds that agree still leave the grid's resolution: low reach in (0, 1], high in (2, 5] -> gap in [1, 5]
    assert (ev.ci_low, ev.ci_high) == (1.0, 5.0)


def test_a_censored_c3_configuration_never_gives_a_zero_width_interval():
    from zfviz.analysis.evolution import settle_gap

    # the 2026-12-01 configuration: every seed's conv1-2 first at the epoch-10 snapshot, conv4-5 only at the
    # reference (20): the gap of snapshot epochs is 10 in every seed, and was once reported as [10, 10]
    rows = [{"seed": s, "layer": layer, "channel": c, "epoch": e, "overlap": float(e >= reach)}
            for s in (0, 1, 2) for layer, reach in (("conv1", 10), ("conv2", 10), ("conv4", 20), ("conv5", 20))
            for c in range(3) for e in (1, 2, 5, 10, 20)]
    est, lo, hi, n = settle_gap(pd.DataFrame(rows), boot=200)
    assert est == 10 and hi - lo > 0 and (lo, hi) == (0.0, 15.0)


@pytest.mark.parametrize("draw,seed,limits", [(3.0, 0.5, "the draws limit"), (0.5, 3.0, "the sources limit")])
def test_c9_says_whether_the_few_shot_draws_or_the_sources_limit_its_interval(draw, seed, limits):
    """The registered confirmatory design added sources only; if the draws spread more, sources cannot narrow it."""
    from zfviz.analysis.probes import c9_evidence

    pre = pd.DataFrame([{"k": 1, "split": sp, "source_seed": s, "accuracy": 30.0 + seed * s + draw * sp * (sp - 1.1)}
                        for s in (0, 1, 2) for sp in (0, 1, 2)])
    scratch = pd.DataFrame([{"k": 1, "split": sp, "accuracy": 20.0, "train_top1": 100.0} for sp in (0, 1, 2)])
    assert limits in c9_evidence(pre, scratch, "cpu").note
