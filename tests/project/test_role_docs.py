"""README "What each role may do" is generated from the policies the program declares."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_roles_section_of_the_readme_is_current() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_role_docs.py"), "--check"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_wildcard_grant_says_why_it_is_broad() -> None:
    text = (ROOT / "README.md").read_text()
    start = text.index("<!-- roles:begin")
    section = text[start : text.index("<!-- roles:end -->")]
    boundary_at = section.index("#### Permissions boundary")
    unexplained = [
        line
        for line in section[:boundary_at].splitlines()
        if line.startswith("- **") and "*`" in line and "Broad because" not in line
    ]
    assert "NO REASON GIVEN" not in section
    assert unexplained == []
