"""Where the page lives, and the ASGI entry point the plugin registers.

Airflow imports every plugin in every component, including each task's runner (for
plugin macros). Importing the page's FastAPI app means importing Airflow's API security
modules, about two seconds; so the plugin registers this small ASGI callable instead,
which imports and builds the app on the first request, in the api-server only.
"""

from __future__ import annotations

import importlib
from typing import Any

URL_PREFIX = "/engine-comparison"  # where the api-server mounts the app
UI_ROUTE = "engine-comparison"  # the page inside the Airflow UI: /plugin/<UI_ROUTE>
APP = "kafka_elt.dashboard.web:app"


class LazyAsgiApp:
    def __init__(self, target: str = APP) -> None:
        self.target = target
        self._app: Any = None

    def __repr__(self) -> str:  # shown by Airflow's plugin listing
        return f"LazyAsgiApp({self.target!r})"

    async def __call__(self, scope, receive, send) -> None:
        if self._app is None:
            module, _, attribute = self.target.partition(":")
            self._app = getattr(importlib.import_module(module), attribute)
        await self._app(scope, receive, send)
