"""tools/linkcheck.py, which `make site` runs on the rendered book: it finds a missing page and a missing anchor."""

import importlib.util
from pathlib import Path

spec = importlib.util.spec_from_file_location("linkcheck", Path(__file__).parents[1] / "tools" / "linkcheck.py")
linkcheck = importlib.util.module_from_spec(spec)
spec.loader.exec_module(linkcheck)


def test_linkcheck_finds_missing_pages_and_anchors(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "index.html").write_text('<a href="a/b.html#top">b</a> <a href="https://x.org/">x</a> '
                                         '<img src="missing.png"> <a href="#here">self</a> <p id="here"></p>')
    (tmp_path / "a" / "b.html").write_text('<h1 id="top">b</h1><a href="../index.html#nowhere">back</a>')
    broken, internal, external = linkcheck.broken_links(tmp_path)
    assert internal == 4 and external == 1
    assert len(broken) == 2 and "#nowhere" in broken[0] and "missing.png" in broken[1]
    assert linkcheck.main([str(tmp_path)]) == 1 and linkcheck.main([str(tmp_path / "a")]) == 2
