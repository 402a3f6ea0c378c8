"""README stands alone: everything it links or names as a project file is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def test_readme_links_stay_inside_the_repository_and_exist() -> None:
    text = README.read_text()
    targets = re.findall(r"\]\(([^)\s]+)\)", text)
    assert targets, "README links nothing (the benchmark plots at least)"
    for target in targets:
        if re.match(r"^[a-z]+://|^#|^mailto:", target):
            continue
        path = (ROOT / target.split("#")[0]).resolve()
        assert path.is_relative_to(ROOT), f"README links {target}, outside the repository"
        assert path.exists(), f"README links {target}, which does not exist"


def test_readme_names_no_file_outside_the_repository() -> None:
    """A reader of a clone has no ../shared/ beside it: no link or path may point there."""
    text = README.read_text()
    assert "../" not in text
    assert "DESIGN.md" not in text
