"""README is a first screen: short, the two commands on top, every link and picture there."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
PICTURES = ("review-sheet.png", "summary-sheet.png", "protocol-page.png", "protocol-page-2.png")
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def _without_code(text: str) -> str:
    """The text outside fenced and inline code, where a bracket is not a link."""
    text = re.sub(r"```.*?```", "", text, flags=re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def test_readme_is_short() -> None:
    """README stays a first screen: under 260 lines, the reference lives in docs/."""
    assert len(README.read_text(encoding="utf-8").splitlines()) < 260


def test_the_two_commands_come_first() -> None:
    """`make demo` and `make test` are on README's first 40 lines, and real make targets."""
    top = README.read_text(encoding="utf-8").splitlines()[:40]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test"):
        assert any(line.startswith(f"make {target} ") for line in top), target
        assert re.search(rf"^{target}:", makefile, flags=re.MULTILINE), target


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    """Every relative link of README and docs/*.md names a file of the repository."""
    broken = []
    for target in LINK.findall(_without_code(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue  # a web address, or a place on the same page
        path = (page.parent / target.split("#", 1)[0]).resolve()
        if not path.exists() or ROOT not in path.parents:
            broken.append(target)
    assert not broken, f"{page.name} links to nothing: {broken}"


def test_readme_links_every_docs_page() -> None:
    """No page of docs/ is an orphan: README's map links each one."""
    text = README.read_text(encoding="utf-8")
    for page in PAGES[1:]:
        assert f"(docs/{page.name})" in text, page.name


def test_pictures_exist_and_are_modest() -> None:
    """README shows the four pictures `make pictures` takes, each a PNG under 400 KB."""
    text = README.read_text(encoding="utf-8")
    for name in PICTURES:
        picture = ROOT / "docs" / "pictures" / name
        assert f"(docs/pictures/{name})" in text, name
        assert picture.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", name
        assert picture.stat().st_size < 400_000, name
