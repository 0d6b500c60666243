"""Render the built book in headless Chromium at a desktop and a phone width, and fail where a reader would suffer.

    python tools/browser_check.py _build/html [--widths 1366 390] [--pages book/results/summary.html ...]

For each page and width, a copy of the page with a small script appended is loaded with ``chromium --headless
--dump-dom``; the script writes its findings into the DOM, which the dump returns. It reports:
- a table, verdict box or image whose ``scrollWidth`` exceeds its ``clientWidth``: it scrolls sideways (at a phone's
  width, only the verdict boxes and the summary's table count: they must stack as cards);
- the article column itself wider than the window;
- a chapter whose verdict box does not start within the first screen (the window's height).
Exit 1 with one line per problem; 0 when every page fits. Needs Debian's ``chromium`` (or ``chromium-browser``).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

PROBE = """
<script>
window.addEventListener('load', () => {
  const out = {overflow: [], column: null, verdict: null};
  const main = document.querySelector('main') || document.body;
  for (const el of main.querySelectorAll('table, .admonition, img')) {
    if (el.offsetParent === null) continue;  // hidden (folded cells)
    if (el.scrollWidth > el.clientWidth + 2 && el.clientWidth > 0) {
      const text = (el.innerText || el.getAttribute('src') || '').trim().slice(0, 60).replace(/\\s+/g, ' ');
      const card = el.closest('.admonition, .zfviz-wide') !== null;
      out.overflow.push({card, what: `${el.tagName.toLowerCase()} ${el.scrollWidth}>${el.clientWidth} px: ${text}`});
    }
  }
  if (document.documentElement.scrollWidth > window.innerWidth + 2) {
    out.column = `page ${document.documentElement.scrollWidth} px wide in a ${window.innerWidth} px window`;
  }
  const box = [...main.querySelectorAll('.admonition')].find(a => /Verdict/.test(a.innerText));
  if (box) out.verdict = Math.round(box.getBoundingClientRect().top);
  const pre = document.createElement('pre');
  pre.id = 'zfviz-browser-check';
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
});
</script>
"""


PHONE = 700  # px: under this width a page is read as on a phone


def chromium() -> str:
    """The headless browser's executable."""
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    raise SystemExit("no chromium found: apt-get install chromium (Debian), then run this again")


def check_page(browser: str, page: Path, width: int, height: int = 900) -> list[str]:
    """Problems a reader at ``width`` px sees on ``page`` (a built HTML file)."""
    html = page.read_text()
    probed = page.with_name(f".probe-{page.name}")
    probed.write_text(html.replace("</body>", PROBE + "</body>") if "</body>" in html else html + PROBE)
    try:
        with tempfile.TemporaryDirectory() as profile:
            dom = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--user-data-dir={profile}",
                                  f"--window-size={width},{height}", "--virtual-time-budget=4000", "--dump-dom",
                                  probed.resolve().as_uri()], capture_output=True, text=True, timeout=120).stdout
    finally:
        probed.unlink(missing_ok=True)
    found = re.search(r'<pre id="zfviz-browser-check"[^>]*>(.*?)</pre>', dom, re.S)
    if not found:
        return [f"{page} at {width} px: the probe did not report (page did not load)"]
    out = json.loads(found.group(1).replace("&quot;", '"').replace("&gt;", ">").replace("&lt;", "<")
                     .replace("&amp;", "&"))
    # at a phone's width only the verdict boxes and the summary must fit (as cards); a chapter's wide result tables
    # may scroll there. At a desktop's, nothing may scroll sideways. Code blocks scroll by design and are not read.
    problems = [f"{page} at {width} px: {o['what']}" for o in out["overflow"] if o["card"] or width >= PHONE]
    if out["column"]:
        problems.append(f"{page} at {width} px: {out['column']}")
    if out["verdict"] is not None and out["verdict"] > height:
        problems.append(f"{page} at {width} px: the verdict box starts at {out['verdict']} px, below the first screen")
    return problems


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("site", type=Path)
    ap.add_argument("--widths", type=int, nargs="+", default=[1366, 390])
    ap.add_argument("--pages", nargs="*", default=None, help="pages relative to the site (default: the summary and "
                    "every chapter)")
    args = ap.parse_args()
    pages = ([args.site / p for p in args.pages] if args.pages else
             sorted((args.site / "book" / "results").glob("*.html")))
    browser = chromium()
    problems = [p for page in pages for w in args.widths for p in check_page(browser, page, w)]
    for p in problems:
        print(p)
    print(f"{len(pages)} pages at {args.widths} px: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
