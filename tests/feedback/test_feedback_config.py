"""The `feedback:` section: the commented defaults in controller.yaml load as written, and a bad
value is an error naming its key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from controller.config import load_config
from controller.domain.errors import ConfigError
from tests.helpers import ROOT


def uncommented_feedback_block() -> str:
    lines = (ROOT / "controller.yaml").read_text().splitlines()
    start = lines.index(next(line for line in lines if line.startswith("# feedback:")))
    block = []
    for line in lines[start:]:
        if not line.startswith("#"):
            break
        block.append(line[2:])
    return "\n".join(block) + "\n"


def test_the_documented_feedback_defaults_load_as_written(tmp_path: Path) -> None:
    path = tmp_path / "controller.yaml"
    path.write_text(uncommented_feedback_block())
    feedback = load_config(path).feedback
    assert feedback.intervals.rule == "replace" and feedback.intervals.min_samples == 40
    assert feedback.reselection.settle == timedelta(hours=12)
    assert feedback == load_config(None).feedback  # the comment tells the truth


def test_an_unknown_rule_is_an_error_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "controller.yaml"
    path.write_text("feedback:\n  intervals:\n    rule: sometimes\n")
    with pytest.raises(ConfigError, match=r"controller.yaml:3: feedback.intervals.rule"):
        load_config(path)
