"""Check every internal link of the rendered site: each href/src that points inside the site names a file that
exists, and each #fragment names an id on that page. External links are listed, not fetched (CI is offline).

Usage: python tools/linkcheck.py [_build/html]   (exit 1 and one line per broken link when any is broken)
"""

from __future__ import annotations

import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("id", "name") and value:
                self.ids.add(value)
            if key in ("href", "src") and value and tag != "base":
                self.links.append(value)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def broken_links(root: Path) -> tuple[list[str], int, int]:
    """(one line per broken internal link, internal links checked, external links seen) of the site under root."""
    # the theme's Jinja templates under _static are not pages
    pages = {p: _parse(p) for p in sorted(root.rglob("*.html")) if p.relative_to(root).parts[0] != "_static"}
    broken, internal, external = [], 0, 0
    for page, parsed in pages.items():
        for link in parsed.links:
            url = urlsplit(link)
            if url.scheme or link.startswith(("//", "mailto:", "data:", "javascript:")):
                external += 1
                continue
            internal += 1
            target = page if not url.path else (page.parent / unquote(url.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(root)}: {link}"
            if not target.exists():
                broken.append(f"{where} (no file {target})")
            elif url.fragment and target.suffix == ".html":
                ids = pages[target].ids if target in pages else _parse(target).ids
                if unquote(url.fragment) not in ids:
                    broken.append(f"{where} (no id #{url.fragment} in {target.name})")
    return broken, internal, external


def main(argv: list[str]) -> int:
    root = Path(argv[0] if argv else "_build/html").resolve()
    if not (root / "index.html").exists():
        print(f"linkcheck: no site at {root} (build it first: make site)", file=sys.stderr)
        return 2
    broken, internal, external = broken_links(root)
    for line in broken:
        print(f"broken link: {line}", file=sys.stderr)
    print(f"linkcheck: {internal} internal links, {len(broken)} broken; {external} external links not fetched")
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
