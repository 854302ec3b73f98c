"""controller.yaml: one file naming stores, event source, fleets, Terraform, schedule, apply mode.

Precedence: FLEET_* environment variables (nested with `__`, e.g. FLEET_TERRAFORM__RUNNER=binary)
over the file over the defaults below. Unknown keys and bad values are errors naming the key.
Relative paths are resolved against the directory of the config file.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from controller.adapters.yamldoc import load_yaml
from controller.domain.errors import ConfigError

PACKAGE_DIR = Path(__file__).resolve().parent
EXAMPLE_EVENTS = PACKAGE_DIR / "examples" / "nasa-replay.ndjson.gz"

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|min|h|d|w)\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: object) -> timedelta:
    """'90s', '5m', '1.5h', '2d', or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return timedelta(seconds=value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 5m, 2h, 1d)")


def _positive_duration(value: object) -> timedelta:
    duration = parse_duration(value)
    if duration <= timedelta(0):
        raise ValueError(f"duration must be positive, got {value!r}")
    return duration


Duration = Annotated[timedelta, BeforeValidator(_positive_duration)]
Name = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EventsConfig(_Section):
    source: str = Field(
        default=f"file://{EXAMPLE_EVENTS}",
        description="file://PATH (NDJSON, optionally .gz), kafka://HOST:PORT/TOPIC?group=GROUP, "
        "or kinesis://STREAM?region=REGION[&endpoint=URL]",
    )
    bucket: Duration = timedelta(minutes=1)
    session_gap: Duration = timedelta(minutes=30)
    max_silence: Duration = Field(
        default=timedelta(minutes=10),
        description="a stretch with no events at all longer than this is a gap, not zero demand",
    )
    max_batch: Annotated[int, Field(gt=0)] = Field(
        default=50_000, description="records per batch (one transaction); memory grows with it"
    )
    allowed_lateness: Annotated[timedelta, BeforeValidator(parse_duration)] = Field(
        default=timedelta(minutes=5),
        description="events older than the stream's newest by more than this are dead letters",
    )
    max_ahead: Duration = Field(
        default=timedelta(days=1),
        description="events further than this beyond the stream's own time are dead letters",
    )
    max_event_bytes: Annotated[int, Field(ge=256)] = 64 * 1024
    cycle_budget: Duration = Field(
        default=timedelta(seconds=60),
        description="the daemon's ingest step stops reading a live stream after this long",
    )

    @model_validator(mode="after")
    def _lateness_within_history(self) -> EventsConfig:
        if self.allowed_lateness < timedelta(0):
            raise ValueError(f"allowed_lateness must not be negative, got {self.allowed_lateness}")
        if self.allowed_lateness > 60 * self.bucket:
            raise ValueError(
                f"allowed_lateness ({self.allowed_lateness}) may be at most 60 buckets "
                f"({60 * self.bucket})"
            )
        return self


class ClockConfig(_Section):
    mode: Literal["system", "replay"] = "system"
    start: datetime | None = Field(
        default=None, description="replay: simulated start; default first event + lead_in"
    )
    step: Duration = Field(default=timedelta(minutes=30), description="replay: time per cycle")
    lead_in: Duration = Field(default=timedelta(days=1), description="replay: history before start")
    fast_forward_gaps: bool = Field(
        default=True, description="replay: jump over stretches with no events at all"
    )


class ForecastConfig(_Section):
    step: Duration = timedelta(minutes=5)
    horizon: Duration = timedelta(hours=48)
    history: Duration = Field(default=timedelta(days=28), description="how far back to read")


class FleetConfig(_Section):
    name: Name
    region: str = "us-east-1"
    personas: list[str] = Field(
        default_factory=list, description="persona keys served, besides personas naming this fleet"
    )
    instance_type: str = "m6i.large"
    capacity_per_instance: Annotated[
        float, Field(gt=0, description="events per second one instance serves at 100%")
    ]
    min_instances: Annotated[int, Field(ge=0)] = 1
    max_instances: Annotated[int, Field(ge=1)] = 20
    target_utilization: Annotated[float, Field(gt=0, le=1)] = 0.7
    warmup: Duration = timedelta(minutes=5)
    quantile: Literal["mean", "p50", "p95"] = "p95"
    lb_capacity_per_unit: Annotated[float, Field(gt=0, description="events/s per LCU")] = 25.0

    @model_validator(mode="after")
    def _bounds(self) -> FleetConfig:
        if self.max_instances < self.min_instances:
            raise ValueError(
                f"max_instances ({self.max_instances}) is below min_instances ({self.min_instances})"
            )
        return self


class TerraformConfig(_Section):
    stack: Path = Path("terraform/stacks/local")
    runner: Literal["embedded", "binary"] = "embedded"
    binary: str = Field(default="terraform", description="with runner: binary; e.g. tofu")
    workdir: Path | None = Field(default=None, description="default: <data_dir>/terraform")


class ScheduleConfig(_Section):
    interval: Duration = timedelta(seconds=60)
    misfire_grace: Duration = timedelta(seconds=30)


def _default_fleets() -> list[FleetConfig]:
    return [
        FleetConfig(name="web", capacity_per_instance=4.0, min_instances=2, max_instances=30),
        FleetConfig(name="api", capacity_per_instance=8.0, min_instances=1, max_instances=20),
    ]


class ControllerConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FLEET_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Path(".fleet")
    database_url: str | None = Field(default=None, description="default: sqlite in data_dir")
    personas_dir: Path = Path("personas")
    events: EventsConfig = Field(default_factory=EventsConfig)
    clock: ClockConfig = Field(default_factory=ClockConfig)
    forecast: ForecastConfig = Field(default_factory=ForecastConfig)
    fleets: Annotated[list[FleetConfig], Field(min_length=1)] = Field(
        default_factory=_default_fleets
    )
    terraform: TerraformConfig = Field(default_factory=TerraformConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    apply_mode: Literal["auto", "review", "plan-only"] = "auto"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (env_settings, init_settings)

    @model_validator(mode="after")
    def _unique_fleets(self) -> ControllerConfig:
        names = [fleet.name for fleet in self.fleets]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"fleet names must be unique; repeated: {', '.join(duplicates)}")
        return self

    @property
    def sqlalchemy_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'fleet.db'}"

    @property
    def terraform_workdir(self) -> Path:
        return self.terraform.workdir or self.data_dir / "terraform"

    def fleet(self, name: str) -> FleetConfig:
        for fleet in self.fleets:
            if fleet.name == name:
                return fleet
        raise KeyError(name)


def load_config(path: Path | None) -> ControllerConfig:
    """Read controller.yaml (or only defaults and environment when `path` is None)."""
    data: dict[str, Any] = {}
    doc = None
    base = Path.cwd()
    if path is not None:
        doc = load_yaml(path)
        base = path.resolve().parent
        if doc.data is not None and not isinstance(doc.data, dict):
            raise ConfigError(
                f"{path}:1: expected a mapping of settings, got {type(doc.data).__name__}"
            )
        data = doc.data or {}
    try:
        config = ControllerConfig(**data)
    except ValidationError as exc:
        if doc is not None:
            problems = doc.validation_problems(exc)
        else:
            problems = [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        where = path if path is not None else "configuration"
        raise ConfigError(f"invalid {where}:\n  " + "\n  ".join(problems)) from None
    return _resolve_paths(config, base)


def _resolve_paths(config: ControllerConfig, base: Path) -> ControllerConfig:
    def absolute(p: Path) -> Path:
        return p if p.is_absolute() else (base / p)

    source = config.events.source
    if source.startswith("file://"):
        raw = Path(source.removeprefix("file://"))
        source = f"file://{absolute(raw)}"
    return config.model_copy(
        update={
            "data_dir": absolute(config.data_dir),
            "personas_dir": absolute(config.personas_dir),
            "events": config.events.model_copy(update={"source": source}),
            "terraform": config.terraform.model_copy(
                update={
                    "stack": absolute(config.terraform.stack),
                    "workdir": absolute(config.terraform.workdir)
                    if config.terraform.workdir
                    else None,
                }
            ),
        }
    )
