"""Airflow UI plugin: the "Engine comparison" page (PostgreSQL vs ClickHouse).

Airflow 3's plugin model: ``fastapi_apps`` mounts the page and its JSON API on the
api-server under ``/engine-comparison``, and ``external_views`` puts the page in the
UI's navigation, shown inside the UI at ``/plugin/engine-comparison``. The code lives
in ``kafka_elt.dashboard``; this file only registers it (Airflow's plugin loader imports
every ``.py`` file directly under ``plugins/``, in every component, so it stays light).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from kafka_elt.dashboard.ui import UI_ROUTE, URL_PREFIX, LazyAsgiApp


class EngineComparisonPlugin(AirflowPlugin):
    name = "engine_comparison"
    fastapi_apps = [{"app": LazyAsgiApp(), "url_prefix": URL_PREFIX, "name": "Engine comparison"}]
    external_views = [
        {
            "name": "Engine comparison",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": UI_ROUTE,
            "icon": f"{URL_PREFIX}/icon.svg",
            # A button of its own in the navigation bar, not inside a menu.
            "nav_top_level": True,
        }
    ]
