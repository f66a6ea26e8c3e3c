"""README's pictures, made from what the code exports today (``make pictures``).

    .venv/bin/python docs/pictures.py [--home DIR] [--out docs/pictures] TRAIN-OPTIONS...

Why a script, and why here: a picture taken by hand shows the workbook of the day it was
taken; this one is taken again after every change to the exports, so README shows what a
reviewer gets. It lives beside the pages it illustrates (``docs/``), not in ``bench/``
(nothing is measured) nor ``deploy/`` (nothing is installed or served).

What it does, as ``make demo`` does but in a throwaway ``CENR_HOME`` (``--home DIR`` keeps
one, and reuses its trained model): train the demo model on ``demo/protocols.csv``
(the training options come from the Makefile's ``DEMO_COLUMNS``; about a minute),
classify ``demo/inbox`` and export it. Then:

- the Review and Summary sheets of ``review.xlsx`` are rendered by LibreOffice Calc, the
  spreadsheet program a reviewer without Excel has, at 100%, one sheet a picture, with
  the grid and the row and column headings a reviewer sees on screen. The printing
  settings (scale 100, no fitting to pages, a page the size of a screen, the other sheets
  hidden) are made through LibreOffice's Python bridge (``python3-uno``) on the document
  LibreOffice has loaded, so the exported file is never changed; openpyxl could not do it
  on a copy, because loading and saving a workbook with openpyxl drops its charts (the
  Summary sheet's bar chart). The bridge is the system Python's package, so that part runs
  as ``/usr/bin/python3 docs/pictures.py --render-sheets ...``. Each sheet's PDF page
  becomes a PNG at 96 dpi (poppler's ``pdftoppm``), cropped to the page: the first screen.
- two protocol pages of the unzipped HTML bundle, the least certain protocol (the first a
  reviewer opens) and the most certain one, are screenshotted by headless Chromium at
  1280 px wide, the first screen of each.

``make services`` (``deploy/dev-services.sh``) installs LibreOffice Calc, python3-uno,
poppler-utils and Chromium when they are missing.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYSTEM_PYTHON = "/usr/bin/python3"  # the interpreter python3-uno belongs to
PX = 2540 / 96  # LibreOffice's page sizes are in 1/100 mm; a CSS pixel is 1/96 inch
# sheet -> (picture, width and height in pixels): what a reviewer sees on opening it
SHEETS = {
    "Review": ("review-sheet.png", 1600, 900),
    "Summary": ("summary-sheet.png", 1400, 800),
}
PAGE_SIZE = (1280, 1400)  # the protocol pages' screenshots


def show(done: subprocess.CompletedProcess[bytes]) -> None:
    """A failed command's output, for the error that follows."""
    sys.stderr.write(done.stdout.decode(errors="replace") + done.stderr.decode(errors="replace"))


def tool(name: str) -> str:
    """The full path of a program ``make services`` installs, or a clear error."""
    found = shutil.which(name)
    if found is None:
        raise SystemExit(
            f"error: {name} is missing; the pictures need LibreOffice Calc, python3-uno, "
            "poppler-utils and Chromium: make services installs them (as root), or "
            "apt-get install libreoffice-calc python3-uno poppler-utils chromium"
        )
    return found


def run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[bytes]:
    """Run a command, saying what, and stop with its output when it fails."""
    print("+", " ".join(command), file=sys.stderr)
    done = subprocess.run(command, capture_output=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        show(done)
        raise SystemExit(f"error: {command[0]} exited {done.returncode}")
    return done


def export_demo(home: Path, train_options: list[str]) -> Path:
    """Train the demo model in ``home`` (unless it has one), classify demo/inbox, export."""
    cenr = str(Path(sys.executable).parent / "cenr")
    env = {**os.environ, "CENR_HOME": str(home)}
    for name in ("CENR_DATABASE_URL", "CENR_BROKER_URL"):
        env.pop(name, None)  # in-process, a SQLite file in the throwaway home
    run([cenr, "db", "upgrade"], env=env, cwd=ROOT)
    if not (home / "models" / "demo").is_dir():
        print("training the demo model (about a minute)", file=sys.stderr)
        run(
            [cenr, "train", "demo/protocols.csv", *train_options, "--name", "demo"],
            env=env,
            cwd=ROOT,
        )
    out = home / "exports" / "demo"
    shutil.rmtree(out, ignore_errors=True)
    print("+ cenr run demo/inbox", file=sys.stderr)
    done = subprocess.run(
        [cenr, "run", "demo/inbox", "--out", str(out), "--model", "demo"],
        env=env, cwd=ROOT, capture_output=True,
    )  # fmt: skip
    if not (out / "review.xlsx").is_file():  # exit 1 only says some protocol failed
        show(done)
        raise SystemExit("error: cenr run wrote no review.xlsx")
    return out


def render_sheets(workbook: Path, pdf_dir: Path, scratch: Path) -> None:
    """In LibreOffice, each wanted sheet alone at 100% on a screen-sized page, as a PDF."""
    import uno  # type: ignore[import-not-found]  # python3-uno: the system Python's
    from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]

    def props(**values: object) -> tuple[object, ...]:
        found = []
        for key, value in values.items():
            prop = PropertyValue()
            prop.Name, prop.Value = key, value
            found.append(prop)
        return tuple(found)

    pipe = f"cenr-pictures-{os.getpid()}"
    office = subprocess.Popen(
        [tool("soffice"), "--headless", "--invisible", "--norestore", "--nologo",
         f"-env:UserInstallation={(scratch / 'lo-profile').as_uri()}",
         f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                context = resolver.resolve(f"uno:pipe,name={pipe};urp;StarOffice.ComponentContext")
                break
            except Exception:
                if time.monotonic() > deadline or office.poll() is not None:
                    raise SystemExit("error: LibreOffice did not start") from None
                time.sleep(0.5)
        desktop = context.ServiceManager.createInstanceWithContext(
            "com.sun.star.frame.Desktop", context
        )
        for name, (_picture, width, height) in SHEETS.items():
            document = desktop.loadComponentFromURL(
                workbook.resolve().as_uri(), "_blank", 0, props(Hidden=True)
            )
            sheets = document.Sheets
            wanted = sheets.getByName(name)
            wanted.IsVisible = True
            document.CurrentController.setActiveSheet(wanted)  # the active one will not hide
            for other in sheets.ElementNames:
                if other != name:
                    hidden = sheets.getByName(other)
                    hidden.IsVisible = False
                    hidden.setPrintAreas(())  # a hidden sheet's print area is printed all the same
            style = document.StyleFamilies.getByName("PageStyles").getByName(wanted.PageStyle)
            width, height = fitted(wanted, width, height)
            style.IsLandscape = width > height
            style.Width, style.Height = round(width * PX), round(height * PX)
            for side in ("LeftMargin", "RightMargin", "TopMargin", "BottomMargin"):
                setattr(style, side, 0)
            style.HeaderIsOn = style.FooterIsOn = False
            style.ScaleToPagesX = style.ScaleToPagesY = style.ScaleToPages = 0
            style.PageScale = 100
            style.PrintGrid = style.PrintHeaders = True  # as on screen
            pdf = pdf_dir / f"{name}.pdf"
            document.storeToURL(
                pdf.resolve().as_uri(),
                props(FilterName="calc_pdf_Export", FilterData=uno.Any(
                    "[]com.sun.star.beans.PropertyValue", props(PageRange="1"))),
            )  # fmt: skip
            document.close(True)
        desktop.terminate()
    finally:
        try:
            office.wait(timeout=30)
        except subprocess.TimeoutExpired:
            office.kill()


def fitted(sheet: object, width: int, height: int) -> tuple[int, int]:
    """The page: the screen's size, or less when the sheet's cells and charts end sooner."""
    cursor = sheet.createCursor()  # type: ignore[attr-defined]
    cursor.gotoEndOfUsedArea(False)
    end = cursor.RangeAddress
    last = sheet.getCellByPosition(end.EndColumn, end.EndRow)  # type: ignore[attr-defined]
    right = last.Position.X + last.Size.Width
    bottom = last.Position.Y + last.Size.Height
    shapes = sheet.DrawPage  # type: ignore[attr-defined]
    for index in range(shapes.Count):
        shape = shapes.getByIndex(index)
        right = max(right, shape.Position.X + shape.Size.Width)
        bottom = max(bottom, shape.Position.Y + shape.Size.Height)
    # and the row and column headings, printed as on screen
    return min(width, round(right / PX) + 64), min(height, round(bottom / PX) + 48)


def sheet_pictures(workbook: Path, out: Path, scratch: Path) -> None:
    """The Review and Summary sheets as PNGs of their first screen."""
    pdf_dir = scratch / "pdf"
    pdf_dir.mkdir()
    run([SYSTEM_PYTHON, __file__, "--render-sheets", str(workbook), str(pdf_dir), str(scratch)])
    for name, (picture, _width, _height) in SHEETS.items():
        stem = scratch / name
        run([tool("pdftoppm"), "-png", "-r", "96", "-f", "1", "-l", "1", "-singlefile",
             str(pdf_dir / f"{name}.pdf"), str(stem)])  # fmt: skip
        shutil.copyfile(stem.with_suffix(".png"), out / picture)


def protocol_pages(bundle: Path) -> list[Path]:
    """The bundle's protocol pages in its index's order: least certain first."""
    [index] = bundle.glob("*/index.html")
    links = re.findall(r'href="(protocols/[^"#?]+\.html)"', index.read_text(encoding="utf-8"))
    pages = [index.parent / link for link in dict.fromkeys(links)]
    if not pages:
        raise SystemExit(f"error: {index} links no protocol page")
    return pages


def page_pictures(zipped: Path, out: Path, scratch: Path) -> None:
    """Headless Chromium's first screen of the least and the most certain protocol."""
    bundle = scratch / "bundle"
    with zipfile.ZipFile(zipped) as archive:
        archive.extractall(bundle)
    pages = protocol_pages(bundle)
    chromium = tool("chromium")
    for page, picture in ((pages[0], "protocol-page.png"), (pages[-1], "protocol-page-2.png")):
        run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={scratch / 'chromium'}", "--force-device-scale-factor=1",
             f"--window-size={PAGE_SIZE[0]},{PAGE_SIZE[1]}",
             f"--screenshot={out / picture}", page.as_uri()])  # fmt: skip


def main(argv: list[str]) -> int:
    """Export the demo and take README's four pictures."""
    if argv[:1] == ["--render-sheets"]:
        render_sheets(Path(argv[1]), Path(argv[2]), Path(argv[3]))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--home", type=Path, help="a CENR_HOME to keep (default: throwaway)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "pictures")
    args, train_options = parser.parse_known_args(argv)
    for name in ("soffice", "pdftoppm", "chromium"):
        tool(name)
    if not Path(SYSTEM_PYTHON).is_file():
        tool("python3-uno's /usr/bin/python3")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cenr-pictures-") as temporary:
        scratch = Path(temporary)
        home = args.home.resolve() if args.home else scratch / "home"
        home.mkdir(parents=True, exist_ok=True)
        exports = export_demo(home, train_options)
        sheet_pictures(exports / "review.xlsx", args.out, scratch)
        page_pictures(exports / "review-html.zip", args.out, scratch)
    for picture in sorted(args.out.glob("*.png")):
        print(f"{picture.relative_to(ROOT)}: {picture.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
