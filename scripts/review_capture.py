"""Render `cleaner review` headlessly and print a text capture of the screen (for the README).

    .venv/bin/python scripts/review_capture.py [FILE] [--keys y,n,j] [--svg out.svg] [--size 100x30]

Works on a temporary copy of FILE (default: samples/spun-article.txt) with a throwaway decision log,
so nothing in the repository is touched. Extra cleaner options go after `--`, e.g. `-- --fast`.
"""

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("file", nargs="?", default=str(ROOT / "samples" / "spun-article.txt"))
    ap.add_argument("--keys", default="", help="comma-separated keys to press first (Textual key names)")
    ap.add_argument("--svg", help="also save an SVG screenshot here")
    ap.add_argument("--size", default="100x30")
    argv = sys.argv[1:]
    cut = argv.index("--") if "--" in argv else len(argv)
    a, extra = ap.parse_args(argv[:cut]), argv[cut + 1:]

    from cleaner.cli import build_parser
    from cleaner.review import build_session
    from cleaner.review_tui import ReviewApp, text_capture

    w, h = (int(x) for x in a.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        doc = Path(tmp) / Path(a.file).name
        shutil.copyfile(a.file, doc)
        args = build_parser().parse_args(["review", "--decisions", str(Path(tmp) / "d.jsonl"), *extra, str(doc)])
        session, problems = build_session(args)
        for d in session.docs:
            d.name = Path(a.file).name  # show the real name, not the temp path

        async def go():
            app = ReviewApp(session)
            async with app.run_test(size=(w, h)) as pilot:
                for k in filter(None, a.keys.split(",")):
                    await pilot.press(k)
                await pilot.pause()
                print(text_capture(app))
                if a.svg:
                    Path(a.svg).write_text(app.export_screenshot(title="cleaner review"))

        asyncio.run(go())


if __name__ == "__main__":
    main()
