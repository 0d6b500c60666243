"""The feature atlas covers every map of every conv layer, one sheet each, and its pages link them all."""

import re

import pytest
from PIL import Image

from zfviz.book.atlas import build_atlas
from zfviz.experiment import load_experiment
from zfviz.model.models import feature_shapes


def test_atlas_covers_every_map(tiny_folder, tmp_path):
    exp = load_experiment("zf", "smoke", 3, dataset=str(tiny_folder), epochs=2, init="kaiming", lr=1e-3,
                          batch_size=8, runs_dir=str(tmp_path / "runs"))
    maps = build_atlas(exp, tmp_path / "atlas", k=4, thumb=16, progress=False)
    shapes = feature_shapes(exp.model)
    for layer in ("conv1", "conv2", "conv3", "conv4", "conv5"):
        n = shapes[layer][0]
        assert sorted(maps[maps.layer == layer].channel) == list(range(n))
        page = (tmp_path / "atlas" / f"{layer}.md").read_text()
        linked = sorted(set(re.findall(r"\]\((img/[^)]+\.webp)\)", page)))  # each image and its full-size link
        assert len(linked) == n and all((tmp_path / "atlas" / f).exists() for f in linked)
    # a sheet: 2x2 projections beside 2x2 patches, then one projection per saved epoch (1 and 2) below
    w, h = Image.open(tmp_path / "atlas" / maps.file.iloc[0]).size
    assert (w, h) == (2 * (2 * 18 + 2) + 4, (2 * 18 + 2) + 4 + (16 + 4))
    index = (tmp_path / "atlas" / "index.md").read_text()
    assert all(f"]({layer}.md)" in index for layer in ("conv1", "conv5"))
    import json

    prov = json.loads((tmp_path / "atlas" / "provenance.json").read_text())
    assert prov["run"] == exp.run.name and prov["epochs"] == exp.epoch and exp.run.name in index
    # the index ends with the chapters' provenance footer: the commit at the build's start, the weights' hash
    assert prov["sha256"] and f"weights {prov['sha256'][:12]}" in index.splitlines()[-1]
    assert prov["machine"]["cpu"] in index and prov["executed_utc"][:10] in index
    with pytest.raises(ValueError, match="the atlas covers conv layers"):
        build_atlas(exp, tmp_path / "bad", layers=["fc7"], progress=False)


def test_the_atlas_of_a_torchvision_network_trained_by_zfviz(tiny_folder, tmp_path):
    """`zfviz train --model torchvision:alexnet` then `zfviz atlas --model torchvision:alexnet`: the run's atlas, a
    layer given as a module, headed with the model and the run's accuracy."""
    exp = load_experiment("torchvision:alexnet", "smoke", 0, dataset=str(tiny_folder), epochs=1, batch_size=8,
                          runs_dir=str(tmp_path / "runs"))
    maps = build_atlas(exp, tmp_path / "atlas", layers=[exp.model.features[0]], k=2, thumb=16, progress=False,
                       heading="Feature atlas: torchvision:alexnet", role="trained by zfviz's loop")
    assert set(maps.layer) == {"features.0"} and len(maps) == exp.model.features[0].out_channels
    index = (tmp_path / "atlas" / "index.md").read_text()
    assert index.startswith("# Feature atlas: torchvision:alexnet\n")
    assert exp.run.name in index and "trained by zfviz's loop; val top-1" in index
    assert "](features_0.md)" in index and (tmp_path / "atlas" / "features_0.md").exists()
    assert "Every feature map of features.0 (conv layer 1 of 5) of" in index  # a subset of the layers says which
    page = (tmp_path / "atlas" / "features_0.md").read_text()
    assert page.startswith("# Atlas: features.0 (conv layer 1 of 5)\n") and "bottom row" not in page  # 1 snapshot


def test_atlas_of_a_zfviz_model_refuses_weights(capsys):
    from zfviz import cli

    assert cli.main(["atlas", "--model", "zf", "--weights", "w.pt"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--weights and --dataset are for a model of your own" in err[0]


def test_chapters_link_a_shown_map_to_its_atlas_sheet_only_for_the_atlas_run(tmp_path):
    import json

    from zfviz.evidence.report import atlas_links

    (tmp_path / "provenance.json").write_text(json.dumps({"run": "zf-cpu-s0-abc"}))
    line = atlas_links("zf-cpu-s0-abc", {"conv1": [3], "conv5": [12, 40]}, atlas=tmp_path)
    assert "[3](../atlas/conv1.html#atlas-conv1-3)" in line and "[40](../atlas/conv5.html#atlas-conv5-40)" in line
    assert atlas_links("zf-cpu-s1-def", {"conv1": [3]}, atlas=tmp_path) == ""  # another run: its maps differ
    assert atlas_links("zf-cpu-s0-abc", {"conv1": [3]}, atlas=tmp_path / "none") == ""
