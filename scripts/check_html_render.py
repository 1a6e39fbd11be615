"""Render a sample fairrec home page in a real headless Chromium and check what it shows.

Builds a sample :class:`fairrec.HomePage` directly from page objects (invented titles; no
recommender involved), writes it as a standalone, PNG-free HTML file
(``examples/output/sample_home.html`` by default), and, when Chromium is installed:

1. dumps the DOM as Chromium rendered it (``--dump-dom``) and checks that every row title,
   every row and item reason, and every item title is present as text, that there is one
   card per item, and that no ``<script>`` element exists (titles are escaped);
2. takes a screenshot (``sample_home.png`` next to the HTML; gitignored) and checks that it
   is a PNG of the window size and not blank.

Usage::

    python scripts/check_html_render.py [--out DIR] [--chromium PATH] [--require-browser]

Exit status: 0 when the checks pass (or Chromium is absent and not required), 1 when a
check fails, 2 when Chromium is required but missing or fails to run.
On Debian: ``apt-get install chromium``.
"""

from __future__ import annotations

import argparse
import shutil
import struct
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

try:
    import fairrec  # noqa: F401
except ImportError:  # running from a checkout without an install
    sys.path.insert(0, str(REPO / "src"))

from fairrec.page import (  # noqa: E402
    DATA_CATALOG_POPULARITY,
    DATA_STATED_INTERESTS,
    DATA_WATCH_HISTORY,
    HomePage,
    Item,
    Reason,
    Row,
)

CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def build_sample_page() -> HomePage:
    """Return a realistic sample page with five row kinds and invented titles."""
    wh, si, pop = DATA_WATCH_HISTORY, DATA_STATED_INTERESTS, DATA_CATALOG_POPULARITY

    def items(specs, reason_for):
        return tuple(
            Item(item_id, title, score, reason_for(title), genres)
            for item_id, title, score, genres in specs
        )

    top = Reason("top_picks", "Picked for you from your watch history (your watch history)", (wh,))
    row_top = Row(
        "Top picks for you",
        "top_picks",
        items(
            [
                ("m101", "The Long Winter Road", 0.912, ("Drama", "Adventure")),
                ("m233", "Orbit of Quiet Stars", 0.874, ("Sci-Fi",)),
                ("m087", "A Kitchen in Lisbon", 0.851, ("Comedy", "Romance")),
                ("m412", "Night Shift at Harbor 9", 0.833, ("Thriller", "Crime")),
                ("m019", "Paper Lanterns", 0.801, ("Animation", "Family")),
                ("m377", "The Cartographer's Daughter", 0.790, ("Drama", "History")),
            ],
            lambda title: top,
        ),
        reason=top,
    )

    anchor = "Signal from Europa"
    because = Reason(
        "because_you_watched",
        f"Because you watched {anchor} (your watch history)",
        (wh,),
        anchor=anchor,
    )
    row_because = Row(
        f"Because you watched {anchor}",
        "because_you_watched",
        items(
            [
                ("m540", "Deep Field", 0.765, ("Sci-Fi", "Mystery")),
                ("m318", "The Ninth Moon Colony", 0.742, ("Sci-Fi", "Horror")),
                ("m066", "Cold Light of Titan", 0.701, ("Sci-Fi", "Drama")),
                ("m290", "Fish & Chips: <Director's Cut>", 0.688, ("Comedy",)),
                ("m702", "Static", 0.655, ("Thriller",)),
                ("m455", "Last Transmission", 0.640, ("Sci-Fi", "Thriller")),
            ],
            lambda title: because,
        ),
        reason=because,
    )

    def gem(title: str) -> Reason:
        return Reason(
            "hidden_gems",
            "A hidden gem for fans of your stated interest Documentary (your stated interests)",
            (si,),
            anchor="Documentary",
        )

    row_gems = Row(
        "Hidden gems: Documentary",
        "hidden_gems",
        items(
            [
                ("m811", "Salt and Silence: The Aral Sea", 0.612, ("Documentary",)),
                ("m823", "Beekeepers of the High Atlas", 0.598, ("Documentary",)),
                ("m847", "The Last Lamplighter", 0.571, ("Documentary", "History")),
                ("m862", "Tide Tables", 0.550, ("Documentary", "Nature")),
                ("m879", "Printers' Ink", 0.533, ("Documentary",)),
                ("m880", "Forty Days on the Ice Road", 0.512, ("Documentary", "Adventure")),
            ],
            gem,
        ),
        reason=Reason(
            "hidden_gems",
            "Less-watched titles in a genre you told us you like (your stated interests)",
            (si,),
        ),
    )

    bubble = Reason(
        "outside_your_bubble",
        "Outside your bubble: loved by viewers with tastes like yours (your watch history)",
        (wh,),
    )
    row_bubble = Row(
        "Outside your bubble",
        "outside_your_bubble",
        items(
            [
                ("m930", "A Waltz for Odessa", 0.481, ("Musical", "Romance")),
                ("m941", "The Quiet Samurai", 0.466, ("Action", "Drama")),
                ("m955", "Grandmother's Garden", 0.450, ("Animation",)),
                ("m962", "Westward, Slowly", 0.437, ("Western",)),
                ("m970", "Chess in the Park", 0.421, ("Comedy", "Drama")),
                ("m988", "Noir Boulevard", 0.402, ("Film-Noir", "Crime")),
            ],
            lambda title: bubble,
        ),
        reason=bubble,
    )

    popular = Reason("diverse_popular", "Popular across genres (no personal data)", (pop,))
    row_popular = Row(
        "Popular across genres",
        "diverse_popular",
        items(
            [
                ("m001", "The Grand Heist", 1843.0, ("Action", "Crime")),
                ("m002", "Summer at Lake Mira", 1610.0, ("Romance",)),
                ("m003", "Dinosaur Detectives", 1502.0, ("Animation", "Children")),
                ("m004", "The Haunting of Ash Lane", 1377.0, ("Horror",)),
                ("m005", "Ocean Planet", 1290.0, ("Documentary",)),
                ("m006", "Laugh Track", 1188.0, ("Comedy",)),
            ],
            lambda title: popular,
        ),
        reason=popular,
    )

    return HomePage(
        "u42",
        (row_top, row_because, row_gems, row_bubble, row_popular),
        personalized=True,
        data_used=(wh, si, pop),
        generated_at="2025-01-15T09:30:00+00:00",
        consent_version=3,
    )


class _TextAndTags(HTMLParser):
    """Collect visible-ish text (not inside <style>/<script>/<head>) and count elements."""

    _SKIP = {"style", "script", "head", "title"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.tags: dict[str, int] = {}
        self.classes: dict[str, int] = {}
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        for name, value in attrs:
            if name == "class" and value:
                for cls in value.split():
                    self.classes[cls] = self.classes.get(cls, 0) + 1
        if tag in self._SKIP:
            self._skip += 1
        elif tag in {"div", "li", "p", "section", "span", "b", "ol"}:
            self.chunks.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skip = max(self._skip - 1, 0)

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.chunks.append(data)


def _norm(text: str) -> str:
    return " ".join(text.split())


def check_dom(dom: str, page: HomePage) -> list[str]:
    """Return the problems found in a (rendered) DOM of ``page``; empty when all is well."""
    parser = _TextAndTags()
    parser.feed(dom)
    parser.close()
    text = _norm("".join(parser.chunks))
    problems = []
    expected: list[tuple[str, str]] = []
    for i, row in enumerate(page.rows):
        expected.append((f"row {i} title", row.title))
        if row.reason is not None:
            expected.append((f"row {i} reason", row.reason.text))
        for j, item in enumerate(row.items):
            expected.append((f"row {i} item {j} title", item.title))
            expected.append((f"row {i} item {j} reason", item.reason.text))
    for what, value in expected:
        if _norm(value) not in text:
            problems.append(f"{what} not found in the rendered DOM: {value!r}")
    n_items = sum(len(row) for row in page.rows)
    if parser.classes.get("frp-card", 0) != n_items:
        problems.append(f"{parser.classes.get('frp-card', 0)} cards rendered, {n_items} expected")
    if parser.classes.get("frp-row", 0) != len(page.rows):
        problems.append(
            f"{parser.classes.get('frp-row', 0)} rows rendered, {len(page.rows)} expected"
        )
    if parser.tags.get("script", 0):
        problems.append(f"{parser.tags['script']} <script> element(s) in the DOM")
    if parser.tags.get("img", 0):
        problems.append("an <img> element in the DOM; the page must be PNG-free")
    return problems


def check_png(path: Path, width: int, height: int) -> list[str]:
    """Return problems with a screenshot: not a PNG, wrong size, or a blank image."""
    if not path.is_file():
        return [f"no screenshot written at {path}"]
    data = path.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return [f"{path} is not a PNG file"]
    w, h = struct.unpack(">II", data[16:24])
    problems = []
    if (w, h) != (width, height):
        problems.append(f"screenshot is {w}x{h}, expected {width}x{height}")
    try:
        import matplotlib.image as mpimg  # optional: only for the blank-image check
    except ImportError:
        return problems
    pixels = mpimg.imread(str(path))
    if float(pixels[..., :3].std()) < 0.02:
        problems.append("screenshot looks blank (almost no contrast)")
    return problems


def find_chromium(explicit: str | None = None) -> str | None:
    """Return the path of a Chromium binary, or None."""
    if explicit:
        return explicit if Path(explicit).exists() else shutil.which(explicit)
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None


def _chromium(binary: str, extra: list[str], url: str, timeout: float) -> str:
    with tempfile.TemporaryDirectory(prefix="fairrec-chromium-") as profile:
        cmd = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *extra, url]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode != 0:
        raise RuntimeError(
            f"chromium exited with status {done.returncode}: {done.stderr.strip()[-2000:]}"
        )
    return done.stdout


def main(argv: list[str] | None = None) -> int:
    """Write the sample page, render it in Chromium and check it; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "examples" / "output")
    parser.add_argument("--chromium", default=None, help="Chromium binary (default: search)")
    parser.add_argument("--require-browser", action="store_true", help="fail without Chromium")
    parser.add_argument("--window-size", default="1400,1000", help="WIDTH,HEIGHT")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per Chromium run")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.window_size.split(","))

    page = build_sample_page()
    args.out.mkdir(parents=True, exist_ok=True)
    html_path = (args.out / "sample_home.html").resolve()
    page.to_html(html_path)
    print(f"wrote {html_path}")

    problems = check_dom(html_path.read_text(encoding="utf-8"), page)
    if problems:  # the document itself is wrong: no need for a browser to say so
        print("\n".join(f"FAIL (html): {p}" for p in problems))
        return 1

    binary = find_chromium(args.chromium)
    if binary is None:
        print("chromium not found: browser check skipped (apt-get install chromium)")
        return 2 if args.require_browser else 0
    url = html_path.as_uri()
    png_path = html_path.with_suffix(".png")
    png_path.unlink(missing_ok=True)
    try:
        dom = _chromium(binary, ["--dump-dom"], url, args.timeout)
        _chromium(
            binary,
            [f"--screenshot={png_path}", f"--window-size={width},{height}"],
            url,
            args.timeout,
        )
    except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"FAIL: could not run {binary}: {exc}")
        return 2
    problems = check_dom(dom, page) + check_png(png_path, width, height)
    if problems:
        print("\n".join(f"FAIL (chromium): {p}" for p in problems))
        return 1
    n_items = sum(len(row) for row in page.rows)
    print(
        f"OK: chromium rendered {len(page.rows)} rows and {n_items} cards; every row title, "
        f"title and reason is in the DOM; screenshot {png_path}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
