"""Serving the API from the daemon: uvicorn in a background thread, stopped with the daemon."""

from __future__ import annotations

import threading
import time

import uvicorn

from controller.api.app import DaemonStatus, create_app
from controller.domain.errors import PermanentError
from controller.workflow.wiring import Controller


class ApiServer:
    def __init__(self, controller: Controller, status: DaemonStatus) -> None:
        config = controller.config.api
        token = config.token.get_secret_value() if config.token else None
        app = create_app(controller, status, token)
        self._server = uvicorn.Server(
            uvicorn.Config(
                app, host=config.host, port=config.port, log_level="warning", access_log=False
            )
        )
        # run() in a non-main thread leaves signal handling to the daemon (uvicorn checks)
        self._thread = threading.Thread(target=self._server.run, name="api", daemon=True)
        self._host, self._port = config.host, config.port

    def start(self, timeout: float = 10) -> str:
        """Start serving; returns the URL (with the real port when the config asked for 0)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive():
                raise PermanentError(
                    f"api: could not serve on {self._host}:{self._port} (port in use? see api.port)"
                )
            if time.monotonic() > deadline:
                raise PermanentError("api: did not start within 10s")
            time.sleep(0.02)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://{self._host}:{port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
