"""The daemon's forecast step: automatic choice per persona, the calendar, bad calendars."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pytest

from controller.domain.clock import FixedClock
from controller.domain.errors import InputError
from controller.workflow import steps
from controller.workflow.wiring import Controller


def _ingested(controller: Controller, clock: FixedClock) -> tuple[steps.PersonaSet, datetime]:
    config = controller.config
    personas = steps.load_personas(config)
    outcome = steps.ingest(
        config, personas, controller.source, controller.ingest_store, clock.now()
    )
    origin = steps.forecast_origin(clock.now(), outcome.last_event_at, config)
    return personas, origin


def test_every_persona_gets_an_automatic_forecast_with_quantiles(
    controller: Controller, clock: FixedClock
) -> None:
    personas, origin = _ingested(controller, clock)
    forecasts = steps.forecast_personas(
        controller.config, personas, controller.metric_store, origin
    )
    assert set(forecasts) == set(personas.keys)
    for forecast in forecasts.values():
        assert forecast.origin == origin
        assert {0.05, 0.5, 0.95} <= set(forecast.quantiles)
        assert np.all(forecast.level(0.05) <= forecast.level(0.95))
        assert forecast.model and not forecast.model.startswith("no-history")


def test_a_campaign_in_the_calendar_lifts_its_persona(
    controller: Controller, clock: FixedClock
) -> None:
    personas, origin = _ingested(controller, clock)
    config = controller.config
    plain = steps.forecast_personas(config, personas, controller.metric_store, origin)
    start, end = origin + timedelta(hours=1), origin + timedelta(hours=2)
    (config.personas_dir / "_calendar.yaml").write_text(
        "campaigns:\n"
        "  - name: flash-sale\n"
        "    persona: peak-hour-shopper\n"
        f"    start: {start.isoformat()}\n"
        f"    end: {end.isoformat()}\n"
        "    uplift: 3\n"
    )
    lifted = steps.forecast_personas(config, personas, controller.metric_store, origin)
    per_hour = int(timedelta(hours=1) / config.forecast.step)
    ratio = lifted["peak-hour-shopper"].mean / plain["peak-hour-shopper"].mean
    assert np.allclose(ratio[per_hour : 2 * per_hour], 3.0)
    assert np.allclose(ratio[:per_hour], 1.0)
    others = [k for k in personas.keys if k != "peak-hour-shopper"]
    for key in others:
        assert np.allclose(lifted[key].mean, plain[key].mean)


def test_an_invalid_calendar_stops_the_step_naming_the_line(
    controller: Controller, clock: FixedClock
) -> None:
    personas, origin = _ingested(controller, clock)
    path = controller.config.personas_dir / "_calendar.yaml"
    path.write_text(
        "campaigns:\n  - name: x\n    persona: nobody\n    start: 2026-11-01T00:00:00Z\n    end: 2026-11-02T00:00:00Z\n    uplift: 2\n"
    )
    with pytest.raises(InputError, match=r"_calendar.yaml:3: campaigns.0.persona: unknown persona"):
        steps.forecast_personas(controller.config, personas, controller.metric_store, origin)
