"""terraform/ checked without a provider: formatting, the two stacks' variables, the AWS schema."""

from __future__ import annotations

import shutil
from pathlib import Path

import hcl2
import pytest

from controller.adapters.terraform.runner import EmbeddedTerraform
from tests.helpers import ROOT
from tests.terraform_schema import check_tree

TERRAFORM = ROOT / "terraform"


def _variables(stack: str) -> object:
    with (TERRAFORM / "stacks" / stack / "variables.tf").open() as handle:
        parsed = hcl2.load(handle)
    return _without_comments(parsed["variable"])


def _without_comments(value: object) -> object:
    if isinstance(value, dict):
        return {k: _without_comments(v) for k, v in value.items() if k != "__comments__"}
    if isinstance(value, list):
        return [_without_comments(v) for v in value]
    return value


def test_the_aws_and_local_stacks_declare_identical_variables() -> None:
    aws, local = _variables("aws"), _variables("local")
    assert aws == local
    assert {next(iter(v)).strip('"') for v in aws} >= {"fleets", "load_balancers"}  # type: ignore[union-attr]


@pytest.mark.terraform
def test_every_terraform_file_is_formatted_as_terraform_fmt_wants() -> None:
    result = EmbeddedTerraform().run(TERRAFORM, "fmt", ["-check", "-recursive", "-no-color"])
    assert result.exit_code == 0, f"terraform fmt would change: {result.stdout}{result.stderr}"


@pytest.mark.terraform
def test_fmt_check_fails_on_a_badly_formatted_file(tmp_path: Path) -> None:
    (tmp_path / "bad.tf").write_text('variable "x" {\ndefault="y"\n}\n')
    result = EmbeddedTerraform().run(tmp_path, "fmt", ["-check", "-no-color"])
    assert result.exit_code != 0 and "bad.tf" in result.stdout


def test_every_aws_resource_uses_only_arguments_and_blocks_the_provider_schema_has() -> None:
    assert check_tree(TERRAFORM) == []


def test_the_modules_use_every_aws_resource_the_design_names() -> None:
    text = "".join(p.read_text() for p in (TERRAFORM / "modules").rglob("*.tf"))
    for kind in (
        "aws_launch_template",
        "aws_autoscaling_group",
        "aws_autoscaling_schedule",
        "aws_autoscaling_policy",
        "aws_lb_target_group",
        "aws_lb",
        "aws_lb_listener",
        "aws_lb_listener_rule",
    ):
        assert f'resource "{kind}"' in text
    assert "ignore_changes = [desired_capacity]" in text
    assert "minimum_load_balancer_capacity" in text


def test_the_schema_check_reaches_inside_the_fleet_modules_warm_pool_block(
    tmp_path: Path,
) -> None:
    module = tmp_path / "fleet"
    shutil.copytree(TERRAFORM / "modules" / "fleet", module)
    main = module / "main.tf"
    text = main.read_text()
    assert 'dynamic "warm_pool"' in text and "reuse_on_scale_in" in text
    main.write_text(text.replace("reuse_on_scale_in", "reuse_on_scale_out"))
    problems = check_tree(module)
    assert len(problems) == 1 and "'reuse_on_scale_out' is unknown argument" in problems[0]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("  invented_argument = 1\n", "'invented_argument' is unknown argument"),
        ('  arn = "x"\n', "'arn' is read-only"),
        ("  tags_all = {}\n", "'tags_all' must never be set"),
        ("  imaginary_block {\n    x = 1\n  }\n", "'imaginary_block' is unknown block"),
        (
            '  dynamic "made_up" {\n    for_each = []\n    content {\n      x = 1\n    }\n  }\n',
            "unknown block dynamic 'made_up'",
        ),
        (
            "  minimum_load_balancer_capacity {\n    capacity_unit = 5\n  }\n",
            "minimum_load_balancer_capacity: 'capacity_unit' is unknown argument",
        ),
    ],
)
def test_the_schema_check_fails_on_an_invented_argument_or_block(
    tmp_path: Path, snippet: str, expected: str
) -> None:
    module = tmp_path / "terraform" / "modules" / "edge"
    shutil.copytree(TERRAFORM / "modules" / "edge", module)
    main = module / "main.tf"
    main.write_text(
        main.read_text().replace(
            'resource "aws_lb" "this" {\n', 'resource "aws_lb" "this" {\n' + snippet
        )
    )
    problems = check_tree(tmp_path / "terraform")
    assert len(problems) >= 1 and any(expected in p for p in problems), problems


def test_the_schema_check_wants_required_arguments(tmp_path: Path) -> None:
    (tmp_path / "main.tf").write_text('resource "aws_autoscaling_group" "g" {\n  max_size = 1\n}\n')
    assert any("required argument 'min_size' is missing" in p for p in check_tree(tmp_path))
