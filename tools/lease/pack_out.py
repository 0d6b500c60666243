"""After a lease's chapters: claims.csv from the executed chapters, then everything worth bringing back packed into at
most 8 files of at most 16 MiB in OUT (the device tool's limits): the chapters (figures inside), claims.csv, the
logs, and every run's metrics.csv and DONE.json (snapshots are too large to come back).

    python tools/lease/pack_out.py RESULTS LOGS RUNS OUT
"""

from __future__ import annotations

import io
import sys
import tarfile
from pathlib import Path

LIMIT = 16 * 2**20
FILES = 8


def main(results: Path, logs: Path, runs: Path, out: Path) -> None:
    from zfviz.book import execute as book

    if any(results.glob("*.ipynb")):
        book.write_claims(results)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for folder, arc in ((results, "results"), (logs, "logs")):
            if folder.is_dir():
                tar.add(folder, arcname=arc)
        for p in sorted(runs.glob("*/metrics.csv")) + sorted(runs.glob("*/DONE.json")):
            tar.add(p, arcname=f"runs/{p.parent.name}/{p.name}")
    data = buf.getvalue()
    parts = [data[i:i + LIMIT - 1024] for i in range(0, len(data), LIMIT - 1024)]
    if len(parts) > FILES:
        raise SystemExit(f"pack_out: {len(data) / 2**20:.0f} MiB do not fit {FILES} files of 16 MiB")
    out.mkdir(parents=True, exist_ok=True)
    for i, part in enumerate(parts):
        (out / f"lease.tgz.{i:02d}").write_bytes(part)
    print(f"pack_out: {len(data) / 2**20:.1f} MiB in {len(parts)} file(s) of at most 16 MiB in {out}; "
          f"here: cat lease.tgz.* | tar -xz")


if __name__ == "__main__":
    main(*(Path(a) for a in sys.argv[1:5]))
