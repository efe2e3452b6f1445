"""The README's promises that can be checked without running them."""

from __future__ import annotations

from pathlib import Path

from registry.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def test_first_screen_has_the_two_commands() -> None:
    first_screen = "\n".join(README.splitlines()[:40])
    assert "make run" in first_screen
    assert "make test" in first_screen


def test_every_setting_is_documented() -> None:
    for name in Settings.model_fields:
        assert f"`CREDITREG_{name.upper()}`" in README, f"README lacks CREDITREG_{name.upper()}"


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in ci
