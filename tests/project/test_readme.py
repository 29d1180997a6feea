"""The README's "Use it in your own Pulumi program" steps, run exactly as written (under mocks)."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def section_blocks(title: str, lang: str) -> list[str]:
    text = (ROOT / "README.md").read_text()
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    body = text[start : end if end != -1 else None]
    pattern = rf"^( *)```{lang}\n(.*?)^\1```"
    return [textwrap.dedent(m.group(2)) for m in re.finditer(pattern, body, re.S | re.M)]


def test_the_own_program_steps_declare_the_endpoint_with_the_users_key_and_topic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    program, see_it = section_blocks("Use it in your own Pulumi program", "python")
    (tmp_path / "__main__.py").write_text(program)
    monkeypatch.chdir(tmp_path)
    exec(compile(see_it, "README step 3", "exec"), {})
    out = capsys.readouterr().out
    assert "sagemaker-rollouts:index:RolloutEndpoint fraud" in out
    assert "aws:sagemaker/endpoint:Endpoint fraud-endpoint-endpoint" in out
    keys = [line for line in out.splitlines() if line.startswith("aws:kms/key:Key ")]
    topics = [line for line in out.splitlines() if line.startswith("aws:sns/topic:Topic ")]
    assert keys == ["aws:kms/key:Key ml-data"]
    assert topics == ["aws:sns/topic:Topic ml-alerts"]
    assert "'endpoint_name': 'fraud-detector'" in out


def test_design_references_point_at_sections_that_exist() -> None:
    design = (ROOT / "docs" / "design.md").read_text()
    sections = set(re.findall(r"^## (\d+)\.", design, re.M))
    cited: set[str] = set()
    for folder in ("strategies", "infra", "lambdas", "sagemaker_rollouts", "tests"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.resolve() == Path(__file__).resolve():
                continue
            text = path.read_text()
            assert "DESIGN.md" not in text.replace("docs/design.md", ""), path
            cited |= set(re.findall(r"docs/design\.md §(\d+)", text))
            cited |= {
                m
                for group in re.findall(r"docs/design\.md (§\d+(?:, §\d+)*)", text)
                for m in re.findall(r"\d+", group)
            }
    assert cited and cited <= sections
    assert "DESIGN.md" not in (ROOT / "README.md").read_text()
