"""The feature atlas: one book page per conv layer showing every feature map of a trained model, each as one small
image sheet (its top-9 deconvnet projections beside the image patches, and the projection of its strongest
activation at every saved epoch). ``python -m zfviz atlas`` writes it from a cached run."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from PIL import Image
from torchvision.utils import make_grid
from tqdm import tqdm

from zfviz.analysis.topk import TopProjections, project_top, top_activations
from zfviz.book.plots import resized_patch, show_image, show_projection
from zfviz.core import machine
from zfviz.core import provenance as core_provenance
from zfviz.core.checkpoint import atomic_write
from zfviz.core.locks import staged
from zfviz.data.sets import class_name, crop_of
from zfviz.experiment import Experiment
from zfviz.model.deconv import Deconvnet
from zfviz.model.layers import layer_name
from zfviz.runs.store import done_record, final_accuracy


def _rgb(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array).permute(2, 0, 1).float()


def map_sheet(top: TopProjections, rows: pd.Index, evolution: list[tuple[TopProjections, int]], mean: torch.Tensor,
              thumb: int = 40, k: int = 9) -> torch.Tensor:
    """One map's sheet, RGB in [0, 1]: a grid of its top-k projections, the matching patches, and below them the
    strongest projection at each saved epoch (``evolution``: a TopProjections and the row index of this map)."""
    side = int(math.ceil(math.sqrt(k)))
    crop = top.inputs.shape[-1]
    mean_c = crop_of(mean, crop)
    proj, patch = [], []
    for i in rows:
        box = top.projection.boxes[i]
        proj.append(_rgb(show_projection(resized_patch(top.projection.pixels[i], box, thumb))))
        patch.append(_rgb(show_image(resized_patch(top.inputs[i] + mean_c.to(top.inputs.device), box, thumb))))
    blank = torch.ones(3, thumb, thumb)
    proj += [blank] * (side * side - len(proj))
    patch += [blank] * (side * side - len(patch))
    upper = torch.cat([make_grid(proj, nrow=side, padding=2, pad_value=1), torch.ones(3, side * (thumb + 2) + 2, 4),
                       make_grid(patch, nrow=side, padding=2, pad_value=1)], 2)
    if evolution:
        evo = [_rgb(show_projection(resized_patch(tp.projection.pixels[i], tp.projection.boxes[i], thumb)))
               for tp, i in evolution]
        lower = make_grid(evo, nrow=len(evo), padding=2, pad_value=1)
        width = max(upper.shape[2], lower.shape[2])
        pad = lambda t: F.pad(t, (0, width - t.shape[2]), value=1.0)
        upper = torch.cat([pad(upper), torch.ones(3, 4, width), pad(lower)], 1)
    return upper.clamp(0, 1)


def _save_webp(sheet: torch.Tensor, path: Path) -> None:
    img = Image.fromarray((sheet.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda tmp: img.save(tmp, format="WEBP", quality=70, method=6))


def build_atlas(exp: Experiment, out: str | Path, *, layers: list | None = None, k: int = 9, thumb: int = 64,
                progress: bool = True, heading: str = "Feature atlas", role: str = "the run the chapters use",
                command: str | None = None) -> pd.DataFrame:
    """Write the atlas of ``exp``'s model into ``out``: ``index.md``, one ``<layer>.md`` per layer and one WebP sheet
    per feature map under ``img/<layer>/``. Mines the validation split. Returns one row per map written.

    ``heading`` titles the index page; ``role`` says what the run is (the book's ZF run, or another model trained by
    zfviz's loop, e.g. ``torchvision:alexnet``). The atlas is built in a staging folder beside ``out`` (under a lock:
    one writer) and replaces ``out`` whole only when complete, so an interrupted build never leaves a mixed atlas.
    """
    c = exp.config
    epochs = sorted(e for e in exp.snapshots() if e <= exp.epoch)
    if epochs == [exp.epoch]:  # only the final weights were kept: an "evolution" row would repeat the top-1 projection
        epochs = []
    accuracy = final_accuracy(pd.read_csv(exp.run / "metrics.csv"))
    return build_model_atlas(exp.model, exp.val, exp.mean, exp.crop, out, provenance(exp), layers=layers, k=k,
                             thumb=thumb, snapshots={e: (lambda e=e: exp.at_epoch(e)) for e in epochs},
                             title=(f"`{exp.run.name}` ({c.model}, profile `{exp.profile.name}`, seed {c.seed}, "
                                    f"{exp.epoch} epochs{': ' + role if role else ''}; {accuracy})"),
                             command=command or f"python -m zfviz atlas --profile {exp.profile.name}",
                             progress=progress, heading=heading)


def build_model_atlas(model: torch.nn.Module, val, mean: torch.Tensor, crop: int, out: str | Path, prov: dict, *,
                      layers: list | None = None, k: int = 9, thumb: int = 64, snapshots: dict | None = None,
                      title: str = "", command: str = "", progress: bool = True,
                      heading: str = "Feature atlas") -> pd.DataFrame:
    """The atlas of any plain feed-forward CNN (``layers``): every conv layer's maps over ``val`` (an ``ImageSet``),
    top-k projections beside patches; ``snapshots`` {epoch: () -> model} add the evolution row; ``prov`` (what the
    network is) is written to ``provenance.json``. Staged and swapped in whole, as ``build_atlas``.

    >>> import torchvision  # doctest: +SKIP
    >>> build_model_atlas(torchvision.models.vgg11(num_classes=10).eval(), val, val.images.float().mean(0), 224,
    ...                   "atlas", {"model": "torchvision:vgg11"})  # doctest: +SKIP
    """
    valid = Deconvnet(model).conv_layers()
    names = valid if layers is None else [layer_name(model, x) if not isinstance(x, str) else x for x in layers]
    bad = [x for x in names if x not in valid]
    if not isinstance(names, list) or bad or not names:
        raise ValueError(f"unknown layers {bad or names}; the atlas covers conv layers: {valid}")
    with staged(out, what="the atlas folder", markers=(PROVENANCE,)) as stage:
        maps = _build(model, val, mean, crop, stage, names, k, thumb, snapshots or {}, progress)
        _write_pages(stage, maps, sorted(snapshots or {}), k, len(val), title or f"`{prov.get('model', 'model')}`",
                     command, prov, heading, valid)
    return maps


MAPS_PER_CHUNK = 32  # maps projected at once: a chunk's projections are written as sheets, then freed


def _build(model, val, mean, crop, out: Path, layers: list[str], k: int, thumb: int, snapshots: dict,
           progress: bool) -> pd.DataFrame:
    """Mine every layer's top-k in one pass, then project and write the sheets a chunk of maps at a time (the final
    model's top-k and each snapshot's strongest activation): memory holds one chunk's projections, not the whole
    network's (VGG16's conv layers hold 4,224 maps; all their projections at 224 px would be about 80 GB)."""
    images = val.images
    table = top_activations(model, images, mean, crop, layers, k=k, progress=progress)
    epochs = sorted(snapshots)
    # the snapshots' strongest activations: small tables, mined once per epoch
    evo_tables = {e: top_activations(snapshots[e](), images, mean, crop, layers, k=1, progress=False)
                  for e in tqdm(epochs, disable=not progress, desc="epochs")}
    labels = val.labels
    records = []
    bar = tqdm(total=int(table.groupby(["layer", "channel"]).ngroups), disable=not progress, desc="sheets",
               unit="map")
    for layer in layers:
        folder = layer.replace(".", "_")
        channels = sorted(table.channel[table.layer == layer].unique())
        nets = {e: snapshots[e]() for e in epochs}  # loaded (and verified) once per layer, not per chunk
        for start in range(0, len(channels), MAPS_PER_CHUNK):
            chunk = set(channels[start:start + MAPS_PER_CHUNK])
            top = project_top(model, images, mean, crop,
                              table[(table.layer == layer) & table.channel.isin(chunk)])
            t = top.table.reset_index(drop=True)
            evolution = []
            for e in epochs:
                et = evo_tables[e]
                tp = project_top(nets[e], images, mean, crop,
                                 et[(et.layer == layer) & et.channel.isin(chunk)])
                evolution.append((tp, tp.table.reset_index(drop=True).set_index(["layer", "channel"])))
            bar.set_description(f"sheets of {layer}")
            for ch, rows in t.groupby("channel"):
                rows = rows.sort_values("rank")
                evo = [(tp, int(ix.index.get_loc((layer, ch)))) for tp, ix in evolution]
                sheet = map_sheet(top, rows.index, evo, mean.cpu(), thumb, k)
                rel = Path("img") / folder / f"{folder}_{ch:04d}.webp"
                _save_webp(sheet, out / rel)
                counts = Counter(class_name(val.classes[int(labels[i])]) for i in rows.image)
                records.append({"layer": layer, "channel": int(ch), "file": str(rel),
                                "top_value": float(rows.value.max()),
                                "classes": ", ".join(f"{n} x{c}" if c > 1 else n for n, c in counts.most_common())})
                bar.update(1)
            del top, evolution
        del nets
    bar.close()
    return pd.DataFrame(records)


PROVENANCE = "provenance.json"  # the network the atlas shows: tests check it is the run the chapters use


def provenance(exp: Experiment) -> dict:
    """What identifies the atlas's network: run name, model, profile, seed, epochs, and its weights (the final
    snapshot's SHA-256 and realization, from the run's DONE.json); and what made the atlas: the commit and date when
    its build starts (``core.provenance.started``) and the machine."""
    done = done_record(exp.run)
    return {"run": exp.run.name, "model": exp.config.model, "profile": exp.profile.name, "seed": exp.config.seed,
            "epochs": exp.epoch, "sha256": done.get("snapshot_sha256"), "realization": done.get("realization"),
            **core_provenance.started(), "machine": machine.signature("cpu")}


def _footer(prov: dict) -> list[str]:
    """The provenance footer a chapter ends with, for the atlas index (none for a network without a run)."""
    if "commit" not in prov:
        return []
    page = {**prov, "runs": [{"run": prov["run"], "epoch": prov["epochs"], "source": "weights",
                              "sha256": prov.get("sha256")}],
            "realizations": [prov["realization"]] if prov.get("realization") else []}
    return ["", core_provenance.footer(page)]


def _write_pages(out: Path, maps: pd.DataFrame, epochs: list[int], k: int, n_images: int, run: str, command: str,
                 prov: dict, heading: str = "Feature atlas", conv_layers: list[str] | None = None) -> None:

    shown = list(maps.layer.unique())
    conv_layers = conv_layers or shown

    def label(layer: str) -> str:  # torchvision's "features.10" says less than "conv layer 5 of 5"
        i = conv_layers.index(layer) + 1
        return layer if layer == f"conv{i}" else f"{layer} (conv layer {i} of {len(conv_layers)})"

    which = "the conv layers" if shown == conv_layers else ", ".join(label(x) for x in shown)

    how = (f"Each sheet: left, the deconvnet projections of the map's {k} strongest activations over the validation "
           f"split ({n_images} images, one activation per image), each cut to its receptive field; right, the "
           "image patches there" + (f"; below, the projection of the map's strongest activation after epochs "
                                     f"{', '.join(map(str, epochs))}" if epochs else "")
           + f". Captions list the classes of the {k} images.")
    index = [f"# {heading}", "", f"Every feature map of {which} of {run}"
             + (f", generated by `{command}`." if command else "."), "", how, "",
             "| layer | maps | page |", "|---|---|---|"]
    for layer, part in maps.groupby("layer", sort=False):
        page = layer.replace(".", "_")
        index.append(f"| {label(layer)} | {len(part)} | [{layer}]({page}.md) |")
        lines = [f"# Atlas: {label(layer)}", "", f"All {len(part)} maps of {layer} of {run}. {how} Click a sheet to "
                 "open it at full resolution.", "", "::::{grid} 1 2 2 2", ":gutter: 1", ""]
        for r in part.itertuples():
            lines += [":::{grid-item}", f"(atlas-{page}-{r.channel})=", f"**{layer} map {r.channel}**", "",
                      r.classes, "", f"![{layer} map {r.channel}]({r.file})", ""]
            if epochs:
                lines.append(f"<small>bottom row: epochs {', '.join(map(str, epochs))}</small>")
            lines += [":::", ""]
        lines += ["::::", ""]
        atomic_write(out / f"{page}.md", lambda tmp, text="\n".join(lines): Path(tmp).write_text(text))
    index += _footer(prov)
    atomic_write(out / "index.md", lambda tmp: Path(tmp).write_text("\n".join(index) + "\n"))
    atomic_write(out / PROVENANCE, lambda tmp: Path(tmp).write_text(json.dumps(prov, indent=1) + "\n"))
