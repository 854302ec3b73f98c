"""Plan reviews on disk: <dir>/<plan_id>.md and .json, written atomically."""

from __future__ import annotations

import json
from pathlib import Path

from controller.adapters.files import write_atomically
from controller.review.markdown import render_markdown
from controller.review.model import PlanReview


def save_review(review: PlanReview, directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    markdown = directory / f"{review.plan_id}.md"
    data = directory / f"{review.plan_id}.json"
    write_atomically(markdown, render_markdown(review))
    write_atomically(data, json.dumps(review.to_dict(), indent=2, sort_keys=True) + "\n")
    return markdown, data


def read_review_markdown(directory: Path, plan_id: str) -> str | None:
    path = directory / f"{plan_id}.md"
    return path.read_text(encoding="utf-8") if path.is_file() else None
