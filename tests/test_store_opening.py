"""Opening a store: however many processes open a new one at the same moment (two ingesters,
the daemon and a command), each of them opens it, with every table there."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from threading import Barrier

from sqlalchemy import inspect

from controller.adapters.storage.db import connect, metadata


def _open(url: str, together: Barrier) -> None:
    together.wait(30)
    connect(url).dispose()


def test_processes_opening_a_new_store_at_once_all_open_it(tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    for trial in range(5):
        url = f"sqlite:///{tmp_path / f'store-{trial}.db'}"
        together = context.Barrier(4)
        openers = [context.Process(target=_open, args=(url, together)) for _ in range(4)]
        for opener in openers:
            opener.start()
        for opener in openers:
            opener.join(60)
        assert [opener.exitcode for opener in openers] == [0, 0, 0, 0], f"trial {trial}"
        engine = connect(url)
        try:
            assert set(inspect(engine).get_table_names()) == set(metadata.tables)
        finally:
            engine.dispose()
