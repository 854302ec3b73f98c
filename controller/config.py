"""controller.yaml: one file naming stores, event source, fleets, Terraform, schedule, apply mode.

Precedence: FLEET_* environment variables (nested with `__`, e.g. FLEET_TERRAFORM__RUNNER=binary)
over the file over the defaults below. Unknown keys and bad values are errors naming the key.
Relative paths are resolved against the directory of the config file.
"""

from __future__ import annotations

import os
import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from controller.adapters.health_check import check_template
from controller.adapters.persona_files import MAX_FILE_BYTES
from controller.adapters.yamldoc import YamlDocument, load_yaml
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
        if _DURATION.match(value.strip().removeprefix("-")):
            raise ValueError(
                f"a duration cannot be negative, got {value!r} (expected e.g. 30s, 5m, 2h, 1d)"
            )
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
    event_seconds: Annotated[float, Field(gt=0)] = Field(
        default=1.0,
        description="seconds of one session's use an event reports (cpu_ms = cpu_demand x 1000 x "
        "this, and so on): what the persona matcher expects per event. 1 for a stream that "
        "reports each session every second; the example replay reports once a session-minute: 60",
    )
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


REMOVED_FLEET_KEYS = {
    "capacity_per_instance": "instance capacity now comes from the instance type catalog "
    "(vCPU, memory, network, IOPS) and the personas' resource profiles; see docs/allocation.md",
    "lb_capacity_per_unit": "load balancer capacity units now follow the ALB LCU formula in "
    "docs/allocation.md",
}


class WarmPoolConfig(_Section):
    """An EC2 Auto Scaling warm pool: instances stopped ahead of a burst (docs/allocation.md)."""

    enabled: bool = False
    pool_state: Literal["Stopped", "Hibernated"] = Field(
        default="Stopped", description="Hibernated keeps memory (needs an encrypted root volume)"
    )
    min_size: Annotated[int, Field(ge=0)] = Field(
        default=0, description="instances the pool keeps however large the group is"
    )
    max_prepared: Literal["auto"] | Annotated[int, Field(ge=0)] = Field(
        default="auto",
        description="max_group_prepared_capacity; auto: sized from the forecast's upper quantile",
    )
    reuse_on_scale_in: bool = Field(
        default=True, description="scaled-in instances return to the pool instead of terminating"
    )
    volume_gib: Annotated[float, Field(gt=0)] = Field(
        default=8.0, description="root EBS volume of one instance (the AMI's; cost of a warm one)"
    )
    volume_usd_per_gib_month: Annotated[float, Field(ge=0)] = Field(
        default=0.08, description="gp3 storage price (us-east-1 list price; docs/allocation.md)"
    )

    @model_validator(mode="after")
    def _bounds(self) -> WarmPoolConfig:
        if isinstance(self.max_prepared, int) and self.max_prepared < self.min_size:
            raise ValueError(
                f"warm_pool.max_prepared ({self.max_prepared}) is below "
                f"warm_pool.min_size ({self.min_size})"
            )
        return self


class FleetConfig(_Section):
    name: Name
    region: str = "us-east-1"
    personas: list[str] = Field(
        default_factory=list, description="persona keys served, besides personas naming this fleet"
    )
    instance_type: str = Field(
        default="m6i.large", description="the type to start with; the allocator may change it"
    )
    allowed_instance_types: list[str] | None = Field(
        default=None,
        description="types the allocator may choose (default: every x86_64 type in the catalog)",
    )
    type_change_min_saving: Annotated[float, Field(ge=0, le=1)] = Field(
        default=0.1, description="change the instance type only if it saves at least this share"
    )
    min_instances: Annotated[int, Field(ge=0)] = 1
    max_instances: Annotated[int, Field(ge=1)] = 20
    target_utilization: Annotated[float, Field(gt=0, le=1)] = 0.7
    warmup: Duration = timedelta(minutes=5)
    scale_in_stabilization: Duration = Field(
        default=timedelta(minutes=15), description="scale in only after load stayed low this long"
    )
    scale_in_rate: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.1, description="largest share of instances removed per forecast step"
    )
    max_capacity_breach: Literal["hold", "increase"] = Field(
        default="hold", description="increase: forecast above max raises max (IncreaseMaxCapacity)"
    )
    max_capacity_buffer: Annotated[float, Field(ge=0, le=100)] = Field(
        default=10.0, description="percent headroom over the forecast when max is raised"
    )
    schedule_horizon: Duration = Field(
        default=timedelta(hours=24), description="scheduled actions cover this far ahead (<= 48h)"
    )
    quantile: Literal["mean", "p50", "p95"] = "p95"
    load_balancer: str = Field(
        default="", description="ALB name; fleets naming the same one share it (default: own)"
    )
    drift_policy: Literal["report", "reconcile"] = Field(
        default="report",
        description="report: alert, and hold plans that would revert a manual change for approval; "
        "reconcile: re-plan and apply at once, under the usual guardrails (docs/drift.md)",
    )

    warm_pool: WarmPoolConfig = Field(
        default_factory=WarmPoolConfig,
        description="stopped instances that serve a minute after a scale-out (off by default)",
    )

    capacity_per_instance: SkipJsonSchema[object] = Field(default=None, exclude=True)
    lb_capacity_per_unit: SkipJsonSchema[object] = Field(default=None, exclude=True)

    @field_validator("capacity_per_instance", "lb_capacity_per_unit")
    @classmethod
    def _removed_keys(cls, value: object, info: ValidationInfo) -> object:
        if value is not None:
            raise ValueError(f"no longer used: {REMOVED_FLEET_KEYS[str(info.field_name)]}")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> FleetConfig:
        if self.max_instances < self.min_instances:
            raise ValueError(
                f"max_instances ({self.max_instances}) is below min_instances ({self.min_instances})"
            )
        if self.schedule_horizon > timedelta(hours=48):
            raise ValueError(f"schedule_horizon {self.schedule_horizon} is over 48h")
        return self


class GuardrailsConfig(_Section):
    """Limits a plan must stay within to apply without a person approving it."""

    max_change_per_cycle: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="most instances one fleet may gain or lose in one plan"
    )
    max_instances: Annotated[int, Field(ge=0)] | None = Field(
        default=None, description="most instances one fleet may be planned to have"
    )
    max_cost_increase_per_hour: Annotated[float, Field(ge=0)] | None = Field(
        default=None, description="USD per hour the whole plan may add"
    )
    allow_destroy: bool = Field(
        default=False, description="allow destroying or replacing groups and load balancers"
    )
    allowed_instance_types: list[str] | None = Field(
        default=None, description="types a plan may put in force (default: any)"
    )


class TerraformConfig(_Section):
    stack: Path = Path("terraform/stacks/local")
    runner: Literal["embedded", "binary"] = "embedded"
    binary: str = Field(default="terraform", description="with runner: binary; e.g. tofu")
    workdir: Path | None = Field(default=None, description="default: <data_dir>/terraform")


class AwsConfig(_Section):
    """How boto3 reaches AWS. Credentials come from boto3's standard chain (environment, shared
    profile, instance or task role): never from this file, never in logs."""

    endpoint_url: str | None = Field(
        default=None,
        description="one endpoint for every AWS service (moto, LocalStack); default: AWS itself",
    )
    name_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,30}$")] = Field(
        default="fleet",
        description="environment.name_prefix of terraform/stacks/aws: groups and load balancers "
        "are named <prefix>-<fleet or load balancer>",
    )
    max_attempts: Annotated[int, Field(ge=1, le=10)] = Field(
        default=3, description="boto3 attempts per call (standard retry mode, with backoff)"
    )
    connect_timeout: Duration = timedelta(seconds=5)
    read_timeout: Duration = timedelta(seconds=20)

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not re.match(r"^https?://[^/@\s]+(:\d+)?/?$", value):
            raise ValueError(
                f"not an endpoint URL: {value!r} (use http(s)://host[:port], no path, no credentials)"
            )
        return value


class TerraformDriftConfig(_Section):
    enabled: bool = Field(default=True, description="`plan -refresh-only` on its own schedule")
    interval: Duration = timedelta(minutes=15)


class AwsDriftConfig(_Section):
    enabled: bool = Field(
        default=False, description="read groups and load balancers with boto3 (needs AWS)"
    )
    interval: Duration = timedelta(minutes=5)


class PersonasConfig(_Section):
    max_file_bytes: Annotated[int, Field(gt=0)] = Field(
        default=MAX_FILE_BYTES,
        description="a persona or calendar file larger than this is refused before it is parsed",
    )


class DriftConfig(_Section):
    """Two views of drift, each on its own schedule (docs/drift.md)."""

    terraform: TerraformDriftConfig = Field(default_factory=TerraformDriftConfig)
    aws: AwsDriftConfig = Field(default_factory=AwsDriftConfig)


class HealthCheckConfig(_Section):
    target: str = Field(
        description="Jinja2 template of the URL to check, from Terraform outputs: "
        "http(s)://... (2xx/3xx is healthy) or tcp://host:port (a connection is healthy). "
        "Variables: outputs, fleet, load_balancer"
    )
    timeout: Duration = timedelta(seconds=3)

    @field_validator("target")
    @classmethod
    def _template(cls, value: str) -> str:
        check_template(value)
        return value


_CLOUDWATCH_PERIODS = "1, 5, 10, 30 seconds or a multiple of 60 seconds"


class MonitorConfig(_Section):
    """After each apply: realized utilization per fleet against its target (docs/drift.md)."""

    enabled: bool = True
    window: Duration = Field(
        default=timedelta(minutes=15), description="how long after an apply the fleet is watched"
    )
    tolerance: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.1,
        description="healthy within target_utilization +- this (utilization fraction, 0.1 = 10 points)",
    )
    cloudwatch: bool = Field(
        default=False, description="read CPUUtilization and RequestCountPerTarget (needs AWS)"
    )
    period: Duration = Field(default=timedelta(minutes=1), description="CloudWatch period")
    health_check: HealthCheckConfig | None = None

    @field_validator("period")
    @classmethod
    def _period(cls, value: timedelta) -> timedelta:
        seconds = value.total_seconds()
        if seconds not in (1, 5, 10, 30) and (seconds % 60 or seconds < 60):
            raise ValueError(f"CloudWatch periods are {_CLOUDWATCH_PERIODS}, got {value}")
        return value


class IntervalFeedbackConfig(_Section):
    """Conformal bands re-calibrated from what published forecasts got wrong (docs/feedback.md)."""

    rule: Literal["replace", "blend", "off"] = Field(
        default="replace",
        description="replace: a lead time with min_samples realized errors uses only those; "
        "blend: realized errors join the backtest's; off: backtest only",
    )
    window: Duration = Field(
        default=timedelta(days=2), description="forecasts made this far back feed the bands"
    )
    min_samples: Annotated[int, Field(ge=5)] = Field(
        default=40,
        description="realized errors a lead time needs before they replace the backtest's",
    )


class BiasFeedbackConfig(_Section):
    """A persistent bias shifts the next forecasts (docs/feedback.md: the test)."""

    enabled: bool = True
    window: Duration = Field(
        default=timedelta(days=2),
        description="realized errors tested; its halves must agree, so 2 days = a bias that "
        "lasts from one day to the next, not one day's level",
    )
    t_threshold: Annotated[float, Field(gt=0)] = Field(
        default=3.0, description="|mean log error| / its autocorrelation-aware standard error"
    )
    min_points: Annotated[int, Field(ge=4)] = Field(
        default=144,
        description="realized buckets the test needs (144 = half a day of 5-minute steps: a "
        "bias must last; the hours after an outage must not pass for one)",
    )
    min_shift: Annotated[float, Field(ge=0, lt=1)] = Field(
        default=0.05, description="biases under this relative size (0.05 = 5 %) are left alone"
    )
    max_factor: Annotated[float, Field(gt=1)] = Field(
        default=3.0, description="the correction stays within 1/max_factor .. max_factor"
    )


class ReselectionConfig(_Section):
    """The model choice is kept per persona and re-done only on these triggers."""

    mase_growth: Annotated[float, Field(gt=1)] = Field(
        default=1.5,
        description="re-select when rolling MASE exceeds this x its value after selection",
    )
    max_age: Duration = Field(
        default=timedelta(days=7), description="re-select at least this often"
    )
    window: Duration = Field(
        default=timedelta(days=1), description="forecasts the rolling MASE covers"
    )
    min_points: Annotated[int, Field(ge=1)] = Field(
        default=100, description="realized points a MASE needs to count"
    )
    settle: Duration = Field(
        default=timedelta(hours=12),
        description="a choice's baseline MASE is taken once it has been in force this long",
    )


class ProfileFeedbackConfig(_Section):
    """Per-session resource profiles measured from the metric store replace the declared ones."""

    enabled: bool = True
    window: Duration = Field(default=timedelta(days=7), description="metric history measured")
    every: Duration = Field(
        default=timedelta(hours=1), description="re-measure at most this often (7 days of reads)"
    )
    min_buckets: Annotated[int, Field(ge=1)] = Field(
        default=120, description="buckets with enough sessions needed before a profile is learned"
    )
    min_sessions: Annotated[int, Field(ge=1)] = Field(
        default=5, description="a bucket counts when this many sessions were active in it"
    )


class FeedbackConfig(_Section):
    intervals: IntervalFeedbackConfig = Field(default_factory=IntervalFeedbackConfig)
    bias: BiasFeedbackConfig = Field(default_factory=BiasFeedbackConfig)
    reselection: ReselectionConfig = Field(default_factory=ReselectionConfig)
    profiles: ProfileFeedbackConfig = Field(default_factory=ProfileFeedbackConfig)


class ScheduleConfig(_Section):
    interval: Duration = timedelta(seconds=60)
    misfire_grace: Duration = timedelta(seconds=30)
    step_retries: Annotated[int, Field(ge=0, le=10)] = Field(
        default=2, description="retries of a step that failed with a temporary error"
    )
    retry_backoff: Duration = Field(
        default=timedelta(seconds=2), description="first retry delay; doubles each retry"
    )


class HighAvailabilityConfig(_Section):
    enabled: bool = Field(default=True, description="hold a lease in the database; others stand by")
    lease_ttl: Duration = Field(
        default=timedelta(seconds=30),
        description="a standby takes over this long after the last heartbeat",
    )
    instance: Name | None = Field(
        default=None,
        description="this daemon's name (default: the host name); names its scheduler job table",
    )


class ApiConfig(_Section):
    enabled: bool = Field(default=True, description="serve the HTTP API from the daemon")
    host: str = Field(default="127.0.0.1", description="loopback by default; 0.0.0.0 exposes it")
    port: Annotated[int, Field(ge=0, le=65535, description="0 picks a free port")] = 8787
    token: SecretStr | None = Field(
        default=None,
        description="bearer token for mutating endpoints (approve); set via FLEET_API__TOKEN",
    )


AnomalyKindName = Literal[
    "unmatched_sessions",
    "unusual_resources",
    "demand_outside_forecast",
    "unmatched_spike",
    "traffic_vanished",
]


class AnomalyPolicyConfig(_Section):
    """What to do about one kind of anomaly (controller.anomaly.mitigation.Policy)."""

    actions: Annotated[list[Literal["alert", "scale_out", "throttle"]], Field(min_length=1)] = [
        "alert"
    ]
    factor: Annotated[float, Field(ge=1.0, le=10.0)] = Field(
        default=1.5, description="scale_out: desired instances times this"
    )
    min_extra: Annotated[int, Field(ge=0)] = Field(
        default=1, description="scale_out: at least this many more instances"
    )
    duration: Duration = Field(
        default=timedelta(minutes=30), description="scale_out: held this long after last seen"
    )
    throttle_headroom: Annotated[float, Field(gt=1.0)] = Field(
        default=1.2, description="throttle: limit = expected per-client rate times this"
    )


class AnomaliesConfig(_Section):
    """Matching thresholds, anomaly detection, mitigation policies and alert channels."""

    min_probability: Annotated[float, Field(gt=0, lt=1)] = Field(
        default=0.6, description="sessions below this posterior are unmatched"
    )
    max_outlier_z: Annotated[float, Field(gt=0)] = Field(
        default=6.0, description="sessions further below their persona's own model are unmatched"
    )
    resource_z: Annotated[float, Field(gt=0)] = Field(
        default=4.0, description="matched sessions this many sigmas off in resource use are unusual"
    )
    sustained: Duration = Field(
        default=timedelta(minutes=10),
        description="how long a metric must be off to be an anomaly (demand: judged on the "
        "median over this period, so a surge of a few minutes is not a burst)",
    )
    resolve_after: Duration = Field(
        default=timedelta(minutes=10), description="quiet this long -> resolved"
    )
    excess_factor: Annotated[float, Field(ge=1)] = Field(
        default=2.0,
        description="demand outside the forecast must also be above this times its mean, or "
        "below its mean over this (1: the p05-p95 band alone decides, which bursty traffic "
        "crosses for 10 minutes several times a day; 2 keeps 3x bursts and halvings)",
    )
    seasonal_guard: bool = Field(
        default=True,
        description="demand above the forecast band is an anomaly only if it is also a burst "
        "against the same time of day on the last 7 days (docs/anomalies.md)",
    )
    guard_excess_factor: Annotated[float, Field(ge=1)] | None = Field(
        default=None,
        description="the seasonal second opinion's own excess factor (default: `excess_factor`): "
        "demand above the forecast band is confirmed when the last `sustained` period's median "
        "is above the same time of day on the last 7 days and above this times the last hour's "
        "level (plus `poisson_sigmas`); looser values measured on the NASA trace in "
        "docs/anomalies.md",
    )
    guard_day_types: bool = Field(
        default=False,
        description="the seasonal second opinion compares weekends with weekends: its band, "
        "pooled over the last 7 days, is brought down to the volume of the day's type "
        "(Saturday and Sunday against weekdays, in `local_timezone`) where that is lower; "
        "measured on the NASA trace in docs/anomalies.md",
    )
    local_timezone: str = Field(
        default="UTC",
        description="IANA time zone of the traffic's days (where its midnights and weekends "
        "fall), e.g. America/New_York; used by `guard_day_types`",
    )
    poisson_sigmas: Annotated[float, Field(ge=0)] = Field(
        default=3.0,
        description="demand above the forecast must also exceed it by this many Poisson "
        "standard deviations of the sustained period's count (quiet personas are noisy)",
    )
    unmatched_factor: Annotated[float, Field(gt=1)] = 3.0
    unmatched_min_rate: Annotated[float, Field(ge=0)] = 5.0
    vanished_fraction: Annotated[float, Field(gt=0, lt=1)] = 0.2
    vanished_min_rate: Annotated[float, Field(ge=0)] = Field(
        default=10.0,
        description="events per minute a persona must be expected to have before its traffic "
        "can vanish (a quiet night going quieter is not news)",
    )
    policies: dict[AnomalyKindName, AnomalyPolicyConfig] = Field(default_factory=dict)
    webhook_url: str | None = Field(default=None, description="POST alerts here (http/https)")
    sns_topic_arn: str | None = Field(default=None, description="publish alerts to this topic")

    @field_validator("local_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"not a known IANA time zone: {value!r} (e.g. UTC, America/New_York)"
            ) from None
        return value

    @field_validator("webhook_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^https?://[^\s/]+", value):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value

    @field_validator("sns_topic_arn")
    @classmethod
    def _topic_arn(cls, value: str | None) -> str | None:
        if value is not None and not re.match(
            r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[\w-]+$", value
        ):
            raise ValueError(f"not an SNS topic ARN: {value!r}")
        return value


def _default_fleets() -> list[FleetConfig]:
    return [
        FleetConfig(name="web", min_instances=2, max_instances=30),
        FleetConfig(name="api", instance_type="c6i.large", min_instances=1, max_instances=20),
    ]


class ControllerConfig(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FLEET_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Path(".fleet")
    database_url: str | None = Field(default=None, description="default: sqlite in data_dir")
    personas_dir: Path = Path("personas")
    personas: PersonasConfig = Field(default_factory=PersonasConfig)
    events: EventsConfig = Field(default_factory=EventsConfig)
    clock: ClockConfig = Field(default_factory=ClockConfig)
    forecast: ForecastConfig = Field(default_factory=ForecastConfig)
    fleets: Annotated[list[FleetConfig], Field(min_length=1)] = Field(
        default_factory=_default_fleets
    )
    terraform: TerraformConfig = Field(default_factory=TerraformConfig)
    schedule: ScheduleConfig = Field(default_factory=ScheduleConfig)
    apply_mode: Literal["auto", "review", "plan-only"] = "auto"
    ha: HighAvailabilityConfig = Field(default_factory=HighAvailabilityConfig)
    api: ApiConfig = Field(default_factory=ApiConfig)
    guardrails: GuardrailsConfig = Field(default_factory=GuardrailsConfig)
    aws: AwsConfig = Field(default_factory=AwsConfig)
    drift: DriftConfig = Field(default_factory=DriftConfig)
    monitor: MonitorConfig = Field(default_factory=MonitorConfig)
    anomalies: AnomaliesConfig = Field(default_factory=AnomaliesConfig)
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)

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

    @model_validator(mode="after")
    def _shared_load_balancers(self) -> ControllerConfig:
        regions: dict[str, set[str]] = {}
        members: dict[str, int] = {}
        for fleet in self.fleets:
            name = fleet.load_balancer or fleet.name
            regions.setdefault(name, set()).add(fleet.region)
            members[name] = members.get(name, 0) + 1
        for name, found in sorted(regions.items()):
            if len(found) > 1:
                raise ValueError(
                    f"load balancer {name!r} is shared by fleets in {' and '.join(sorted(found))}; "
                    "an ALB serves one region"
                )
            if members[name] > 5:
                raise ValueError(
                    f"load balancer {name!r} is shared by {members[name]} fleets; an ALB "
                    "forwards to at most 5 weighted target groups"
                )
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
        problems = [_describe(error, doc, path) for error in exc.errors(include_url=False)]
        where = path if path is not None else "configuration"
        raise ConfigError(f"invalid {where}:\n  " + "\n  ".join(problems)) from None
    return _resolve_paths(config, base)


def _describe(error: Any, doc: YamlDocument | None, path: Path | None) -> str:
    """One problem, attributed to the FLEET_* variable that set it, else to the file's line."""
    loc = tuple(part for part in error["loc"] if isinstance(part, str | int))
    field = ".".join(str(part) for part in loc) or "(document)"
    message = _redact(str(error["msg"]).removeprefix("Value error, "))
    got = "" if error["type"] == "missing" else f" (got {_shown(loc, error.get('input'))})"
    variable = _env_variable(loc)
    if variable is not None:
        return f"{variable}: {field}: {message}{got}"
    if doc is not None and path is not None:
        return f"{path}:{doc.line_of(loc)}: {field}: {message}{got}"
    return f"{field}: {message}{got}"


_SECRET_KEY = re.compile(r"secret|password|passwd|token|access_key|key_id|credential", re.I)
_URL_CREDENTIALS = re.compile(r"(://[^/@\s:]*):[^/@\s]*@")


def _shown(loc: tuple[str | int, ...], value: object) -> str:
    """The offending value for the message; never a secret (credentials stay out of logs)."""
    if loc and isinstance(loc[-1], str) and _SECRET_KEY.search(loc[-1]):
        return "a value, not shown"
    return _redact(repr(value))


def _redact(text: str) -> str:
    return _URL_CREDENTIALS.sub(r"\1:***@", text)


def _env_variable(loc: tuple[str | int, ...]) -> str | None:
    """The FLEET_* variable that supplied the value at `loc`, if one did."""
    names = [str(part).upper() for part in loc if isinstance(part, str)]
    for depth in range(len(names), 0, -1):
        variable = "FLEET_" + "__".join(names[:depth])
        if variable in os.environ:
            return variable
    return None


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
