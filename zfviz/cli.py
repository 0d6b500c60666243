"""zfviz's command line: train a model, execute the book's chapters, write the feature atlas.

Examples:
  python -m zfviz train --profile smoke                 a tiny ZF model in about a minute (CPU)
  python -m zfviz train --model alexnet --profile cpu   the AlexNet replica at the laptop profile (resumable)
  python -m zfviz book --profile cpu --plan             what the cpu book would train, and roughly how long
  python -m zfviz book --profile smoke --no-build       every chapter on a tiny subset (numbers mean nothing)
  python -m zfviz book --no-execute                     only build the site from the committed chapters
  python -m zfviz atlas --profile cpu                   the atlas pages of the cpu ZF model (seed 0)
  python -m zfviz record --profile cpu                  keep the trained runs' metrics in book/records (commit them)
  torchrun --nproc_per_node 4 -m zfviz train --profile imagenet   the paper's setting on several GPUs
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import sys
from pathlib import Path

from zfviz.core.names import INITS, VARIANTS
from zfviz.core.profiles import PRECISIONS, PROFILES


def _train(args: argparse.Namespace) -> int:
    import torch.distributed as dist  # heavy

    from zfviz.runs.store import TrainConfig, final_accuracy, finished, run_dir  # heavy
    from zfviz.runs.train import resolve_device, train  # heavy

    resolve_device(args.device)  # a bad device fails before any data is read
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        import torch  # heavy (torch, the book): only for the command that needs it, so --help answers at once

        dist.init_process_group("nccl" if torch.cuda.is_available() and args.device != "cpu" else "gloo")
    cfg = TrainConfig(model=args.model, profile=args.profile, dataset=args.dataset, epochs=args.epochs,
                      batch_size=args.batch_size, lr=args.lr, weight_decay=args.weight_decay, dropout=args.dropout,
                      clip_radius=None if args.no_clip else args.clip_radius, init=args.init, seed=args.seed,
                      train_per_class=args.train_per_class, split=args.split,
                      classes=tuple(args.classes) if args.classes else None, precision=args.precision).resolved()
    data = cfg.identity(args.data_root)["data"]  # fingerprint the data once: the run's name and train both hash it
    out = Path(args.out) if args.out else run_dir(cfg, root=args.data_root, data=data)
    try:
        df = train(cfg, out, root=args.data_root, device=args.device, progress=not args.no_progress,
                   ten_crop_every_snapshot=args.ten_crop_every_snapshot, compile=args.compile, data=data)
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
    if int(os.environ.get("RANK", "0")) == 0 and len(df):
        last = df.iloc[-1]
        state = "finished" if finished(out, cfg.epochs) else "stopped"
        print(f"{out}: {state} at epoch {int(last.epoch)}/{cfg.epochs}, {final_accuracy(df, 2)}, "
              f"train top-1 {last.train_top1:.2f}%")
    return 0


def _default_profile(args: argparse.Namespace) -> str:
    if args.profile:
        return args.profile
    import torch  # heavy (torch, the book): only for the command that needs it, so --help answers at once

    profile = "gpu" if torch.cuda.is_available() else "cpu"
    print(f"[zfviz] profile {profile} ({'CUDA found' if profile == 'gpu' else 'no CUDA GPU found'}); "
          "choose with --profile", flush=True)
    return profile


def _note(message: str) -> None:
    """A line for the user about work in progress (stderr, so that stdout stays the result)."""
    print(message, file=sys.stderr, flush=True)


def _book(args: argparse.Namespace) -> int:
    from zfviz.book import (  # heavy (torch, the book): only for the command that needs it, so --help answers at once
        execute as book,
    )

    names = args.only or book.chapters()
    if args.plan:
        from zfviz.book.plan import plan_table  # heavy

        print(plan_table(_default_profile(args), names, args.data_root, args.remeasure, _note))
        return 0
    if args.nbval_references:
        for path in book.make_nbval_references(names, progress=not args.no_progress):
            print(f"[zfviz book] reference {path}")
        return 0
    if not args.no_execute:
        params = {"profile": _default_profile(args)} | ({"data_root": args.data_root} if args.data_root else {})
        from zfviz.book.plan import plan_table, train_planned  # heavy

        print(plan_table(params["profile"], names, args.data_root, args.remeasure, _note), flush=True)  # what will be trained, and roughly how long
        if not args.no_train:
            train_planned(params["profile"], names, data_root=args.data_root, progress=not args.no_progress)
        results, atlas = book.output_dirs(params["profile"], args.out)
        if results != book.RESULTS:
            print(f"[zfviz book] profile {params['profile']} is not the published book's ({book.BOOK_PROFILE}): "
                  f"results go to {results}, the committed book stays as it is (--out book writes it there)",
                  flush=True)
        if args.atlas:
            book.execute_with_atlas(names, params, progress=not args.no_progress, results=results, atlas=atlas)
        else:
            out = book.execute_book(names, params, results, progress=not args.no_progress)
            print(f"[zfviz book] executed {len(names)} chapter(s) -> {out}")
        if results != book.RESULTS and not args.no_build:
            print(f"[zfviz book] the site shows the published book; open {results} for this run's chapters "
                  f"(claims.csv, summary.md, executed notebooks)")
            return 0
    if not args.no_build:
        site = book.build_site()
        print(f"[zfviz book] site: {site / 'index.html'}")
    return 0


def _atlas_external(args: argparse.Namespace) -> int:
    """The atlas of a researcher's own network (``--model torchvision:vgg16 --weights w.pt --dataset DIR``)."""
    from zfviz.book.atlas import build_model_atlas  # heavy
    from zfviz.data.sets import load_folder, pixel_mean  # heavy
    from zfviz.model.external import ImageNetNormalized, load_network  # heavy

    if not args.dataset:
        raise ValueError("--dataset DIR is needed with a model of your own (an ImageFolder: class folders, or val/)")
    from zfviz.model.layers import (  # heavy (torch, the book): only for the command that needs it, so --help answers at once
        trace,
    )

    net = load_network(args.model, args.weights, args.num_classes)  # a bad model or state dict fails before decoding
    trace(net, (args.crop, args.crop))  # as does a network the deconvnet does not define (residuals, branches)
    val = load_folder(args.dataset, args.resize, progress=not args.no_progress)
    mean = pixel_mean(val.images)
    if args.preprocess == "imagenet":
        net = ImageNetNormalized(net, mean)
    digest = hashlib.sha256(Path(args.weights).read_bytes()).hexdigest() if args.weights else None
    prov = {"model": args.model, "weights": args.weights, "weights_sha256": digest, "dataset": str(args.dataset),
            "images": len(val), "crop": args.crop, "resize": args.resize, "preprocess": args.preprocess}
    out = Path(args.out or f"atlas-{args.model.split(':')[-1]}")
    maps = build_model_atlas(net, val, mean, args.crop, out, prov, layers=args.layers,
                             title=f"`{args.model}`" + (f" with weights `{args.weights}`" if args.weights else
                                                        " (random weights)"),
                             command=_command(args), progress=not args.no_progress)
    print(f"[zfviz atlas] {len(maps)} maps of {args.model} -> {out / 'index.md'}")
    return 0


def _command(args: argparse.Namespace) -> str:
    """The command line that was run, as the pages quote it (progress flags dropped)."""
    return " ".join(["python -m zfviz", *(str(a) for a in args.argv if a != "--no-progress")])


def _slug(model: str) -> str:
    """A folder name for a model spec: ``torchvision:alexnet`` -> ``torchvision-alexnet``."""
    return model.replace(":", "-").replace(".", "-")


def _trained_role(model: str) -> str:
    """What an atlas of a run zfviz trained (not the book's ZF) is, said on its page."""
    if not model.startswith("torchvision:"):
        return "trained by zfviz's loop"
    return (f"torchvision's {model.split(':', 1)[1]} architecture trained from scratch by zfviz's loop, not "
            "torchvision's ImageNet weights (zfviz never downloads them; --weights draws an atlas of those); a short "
            "training on 10 classes leaves its deepest maps weakly tuned, and their projections read as colour "
            "texture more than object parts")


def _atlas(args: argparse.Namespace) -> int:
    from zfviz.book.atlas import build_atlas  # heavy
    from zfviz.book.execute import (  # heavy (torch, the book): only for the command that needs it, so --help answers at once
        REPO,
    )
    from zfviz.experiment import load_experiment  # heavy

    # torchvision:<name> without --weights/--dataset is a run trained by zfviz's loop (`zfviz train --model
    # torchvision:alexnet`): its atlas gets the evolution row and the run's provenance, like the book's
    own = bool(args.weights or args.dataset)
    if ":" in args.model and (own or not args.model.startswith("torchvision:")):
        return _atlas_external(args)
    if ":" not in args.model and args.model not in VARIANTS:
        raise ValueError(f"unknown model {args.model!r}; valid: {', '.join(VARIANTS)}, torchvision:<name> or "
                         "<module.path>:<factory>")
    if own:
        raise ValueError(f"--weights and --dataset are for a model of your own; {args.model!r} is zfviz's, its atlas "
                         "comes from its trained run (--profile, --seed, --epochs)")
    profile = _default_profile(args)
    extra = {"epochs": args.epochs} if args.epochs else {}
    exp = load_experiment(args.model, profile, args.seed, data_root=args.data_root, progress=not args.no_progress,
                          **extra)
    book_run = args.model == "zf" and args.seed == 0 and not extra
    from zfviz.book.execute import BOOK_PROFILE  # heavy

    home = REPO / "book" if profile == BOOK_PROFILE else REPO / "_build" / profile  # the published book's, or not
    out = Path(args.out) if args.out else home / ("atlas" if book_run else f"atlas-{_slug(args.model)}")
    command = f"python -m zfviz atlas --profile {profile}" if book_run else _command(args)
    maps = build_atlas(exp, out, layers=args.layers, progress=not args.no_progress,
                       heading="Feature atlas" if book_run else f"Feature atlas: {args.model}",
                       role="the run the chapters use" if book_run else _trained_role(args.model),
                       command=command)
    print(f"[zfviz atlas] {len(maps)} maps of {exp.run.name} -> {out / 'index.md'}")
    return 0


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Examples kept as written; every option shows its default (unless its help already says what it is)."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if "default" in text or action.default is None or action.default is False or \
                action.default == argparse.SUPPRESS or not action.option_strings:
            return text
        return f"{text} (default: %(default)s)"


def _record(args: argparse.Namespace) -> int:
    from zfviz.runs.records import record_run, record_runs  # heavy

    if args.runs:
        written = [w for w in (record_run(r, args.records) for r in args.runs) if w is not None]
    else:
        written = record_runs(records_dir=args.records, profile=args.profile)
    for w in written:
        print(f"recorded {w}")
    print(f"{len(written)} records written")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the exit code."""
    fmt = _Formatter
    parser = argparse.ArgumentParser(prog="python -m zfviz", description=__doc__, formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True)
    from zfviz.runs.config import (  # defaults come from the config, declared once (no torch: --help is instant)
        TrainConfig,
    )

    d = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    t = sub.add_parser("train", help="train a model (resumes from the run directory's checkpoint)", formatter_class=fmt,
                       description="Train one run, or resume it from its checkpoint; a finished run is not retrained.")
    t.add_argument("--model", default=d["model"], help="a zfviz architecture (" + ", ".join(VARIANTS)
                   + ") or torchvision:<name> (e.g. torchvision:alexnet, with torchvision's own init)")
    t.add_argument("--profile", default=d["profile"], choices=list(PROFILES), help="scale (zfviz/core/profiles.py)")
    t.add_argument("--dataset", default=None,
                   help="imagenette, imagewoof, imagenet, or an ImageFolder root; default: the profile's")
    t.add_argument("--data-root", default=None, help="overrides $ZFVIZ_DATA")
    t.add_argument("--epochs", type=int, default=None, help="default: the profile's")
    t.add_argument("--batch-size", type=int, default=None, help="global batch; default: the profile's")
    t.add_argument("--lr", type=float, default=d["lr"], help="initial learning rate (the paper's)")
    t.add_argument("--weight-decay", type=float, default=d["weight_decay"], help="SGD weight decay")
    t.add_argument("--dropout", type=float, default=d["dropout"], help="dropout in fc6 and fc7")
    t.add_argument("--clip-radius", type=float, default=d["clip_radius"], help="feature scale clipping radius")
    t.add_argument("--no-clip", action="store_true", help="turn feature scale clipping off (Fig. 6a)")
    t.add_argument("--train-per-class", type=int, default=None,
                   help="few-shot (Tables 4-6): train on this many images per class of the val split, test on the rest")
    t.add_argument("--split", type=int, default=d["split"], help="which random few-shot split")
    t.add_argument("--classes", nargs="+", default=None, help="train on these class folders only")
    t.add_argument("--ten-crop-every-snapshot", action="store_true",
                   help="score 10-crop validation at every snapshot epoch, not only after the last")
    t.add_argument("--init", default=None, choices=list(INITS), help="default: the profile's")
    t.add_argument("--precision", default=None, choices=list(PRECISIONS),
                   help="the training step's arithmetic; default: the profile's (fp32 on cpu/smoke, bf16 on gpu)")
    t.add_argument("--compile", action="store_true", help="torch.compile the training step (pays on a GPU)")
    t.add_argument("--seed", type=int, default=d["seed"], help="seeds the init, the order, the crops and dropout")
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:1 ... (default: cuda if available)")
    t.add_argument("--out", default=None, help="run directory (default: $ZFVIZ_RUNS/<model>-<profile>-s<seed>-<hash>)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=_train)
    b = sub.add_parser("book", help="execute the chapter notebooks for a profile (papermill), then build the site",
                       formatter_class=fmt, description="Execute the chapters (training what they need and is not "
                       "trained yet), write claims.csv and the summary, and build the site. An interrupted run keeps "
                       "the committed book as it was; rerun the same command to resume (finished runs are reused).")
    b.add_argument("--profile", default=None, choices=list(PROFILES), help="default: gpu with CUDA, else cpu")
    b.add_argument("--data-root", default=None, help="overrides $ZFVIZ_DATA inside the notebooks")
    b.add_argument("--only", nargs="+", default=None, help="chapters to execute (default: all)")
    b.add_argument("--out", default=None, help="where executed notebooks go (default: book/results at the published "
                   "book's profile, cpu; _build/<profile>/ at any other; 'book' forces book/results)")
    b.add_argument("--no-execute", action="store_true", help="only build the site from the executed notebooks there")
    b.add_argument("--no-build", action="store_true", help="only execute the notebooks")
    b.add_argument("--no-progress", action="store_true", help="no progress bars")
    b.add_argument("--nbval-references", action="store_true",
                   help="instead: regenerate tests/nbval (smoke profile, only checked outputs kept)")
    b.add_argument("--no-train", action="store_true",
                   help="do not train the plan's runs first (each chapter still trains what it needs)")
    b.add_argument("--atlas", action="store_true",
                   help="also rebuild the atlas from the profile's ZF model; atlas and results are swapped in together "
                   "at the end, so an interrupted run leaves both as they were")
    b.add_argument("--plan", action="store_true",
                   help="instead: print the runs the chapters would train, their FLOPs, disk and estimated time")
    b.add_argument("--remeasure", action="store_true",
                   help="with --plan: measure this CPU's training rate again (it is measured once per machine, "
                   "thread count and profile, then cached)")
    b.set_defaults(func=_book)
    a = sub.add_parser("atlas", help="write the feature atlas pages (every conv map's top-9 and evolution)",
                       formatter_class=fmt, description="The atlas of a zfviz run (the book's), or of any plain "
                       "feed-forward CNN: python -m zfviz atlas --model torchvision:vgg16 --weights my.pt "
                       "--dataset DIR (or --model my.module:factory).")
    a.add_argument("--model", default="zf",
                   help="a zfviz architecture, torchvision:<name> or <module.path>:<factory>; a zfviz architecture, "
                   "or torchvision:<name> without --weights and --dataset, is the run zfviz trained (--profile, "
                   "--seed, --epochs)")
    a.add_argument("--weights", default=None, help="a state dict for a model of your own (loaded weights_only)")
    a.add_argument("--dataset", default=None, help="an ImageFolder for a model of your own (class folders, or val/)")
    a.add_argument("--num-classes", type=int, default=None, help="default: from the weights")
    a.add_argument("--crop", type=int, default=224, help="input crop for a model of your own")
    a.add_argument("--resize", type=int, default=256, help="shorter side before the centre crop, own model")
    a.add_argument("--preprocess", default="zfviz", choices=["zfviz", "imagenet"],
                   help="zfviz: pixels minus the dataset's mean image (the paper's); imagenet: torchvision's "
                   "normalization, for ImageNet-pretrained weights")
    a.add_argument("--profile", default=None, choices=list(PROFILES), help="default: gpu with CUDA, else cpu")
    a.add_argument("--seed", type=int, default=0, help="which trained run")
    a.add_argument("--epochs", type=int, default=None, help="which trained run: its epochs (default: the profile's)")
    a.add_argument("--data-root", default=None, help="overrides $ZFVIZ_DATA")
    a.add_argument("--layers", nargs="+", default=None, help="conv layers (default: all)")
    a.add_argument("--out", default=None, help="default: book/atlas for the book's ZF run, book/atlas-<model> for "
                   "another zfviz run, atlas-<name> for your own model")
    a.add_argument("--no-progress", action="store_true", help="no progress bars")
    a.set_defaults(func=_atlas)
    r = sub.add_parser("record", help="record trained runs' metrics and identity (book/records, small, committed)",
                       formatter_class=fmt, description="Copy each trained run's metrics and identity into its record, "
                       "so the chapters that read only metrics (Table 3) find them when runs/ is lost; a record "
                       "already holding as many epochs is left as it is.")
    r.add_argument("runs", nargs="*", help="run directories (default: every run under $ZFVIZ_RUNS or runs/)")
    r.add_argument("--profile", default=None, choices=list(PROFILES), help="only the runs of this profile")
    r.add_argument("--records", default=None, help="default: $ZFVIZ_RECORDS, else book/records of the checkout")
    r.set_defaults(func=_record)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("error: interrupted; rerun the same command to resume", file=sys.stderr)
        return 130
    except Exception as e:  # every failure ends in one line naming what was wrong, never a traceback
        print(f"error: {_one_line(e)}", file=sys.stderr)
        return 2


def _one_line(e: BaseException) -> str:
    """An exception as one line; exceptions from outside zfviz keep their type name."""
    text = " ".join(str(e).split()) or type(e).__name__
    if isinstance(e, (ValueError, FileNotFoundError, FloatingPointError)) or type(e).__name__ == "BusyError":
        return text
    return f"{type(e).__name__}: {text}"
