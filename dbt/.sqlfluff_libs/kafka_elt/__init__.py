"""sqlfluff's view of this project's macros (dbt/.sqlfluff: library_path).

sqlfluff's jinja templater knows dbt's builtins but not a project's dispatched macros.
This module renders the real macros (dbt/macros/**/*.sql) with jinja2, resolving
``adapter.dispatch`` to the ``postgres__`` (else ``default__``) variant, so the SQL that
gets linted is the PostgreSQL SQL dbt would run. Lint only; dbt never imports this.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

_MACROS = Path(__file__).resolve().parents[2] / "macros"
_VARS = {"staging_test_window_hours": 1, "top_links_per_day": 10}


class _Return(Exception):
    def __init__(self, value):
        self.value = value


def _return(value):
    raise _Return(value)


class _Namespace:
    """Calls a macro of the module; turns dbt's return() into a return value."""

    def __init__(self, module):
        self._module = module

    def __getattr__(self, name):
        macro = getattr(self._module, name)

        def call(*args, **kwargs):
            try:
                return jinja2.utils.markupsafe.Markup(macro(*args, **kwargs))
            except _Return as result:
                return result.value

        return call


class _Dbt:
    """dbt's cross-database type macros, as PostgreSQL renders them."""

    @staticmethod
    def type_string():
        return "text"

    @staticmethod
    def type_bigint():
        return "bigint"

    @staticmethod
    def type_int():
        return "integer"


class _Adapter:
    def __init__(self, namespace):
        self._namespace = namespace

    def dispatch(self, name, _package=None):
        for candidate in (f"postgres__{name}", f"default__{name}"):
            if hasattr(self._namespace._module, candidate):
                return getattr(self._namespace, candidate)
        raise AttributeError(name)


def _load():
    # Renders SQL, not HTML: nothing to escape.
    env = jinja2.Environment(extensions=["jinja2.ext.do"], undefined=jinja2.StrictUndefined)  # noqa: S701
    source = "\n".join(p.read_text() for p in sorted(_MACROS.rglob("*.sql")))
    namespace = _Namespace(None)
    env.globals.update(
        {
            "return": _return,
            "kafka_elt": namespace,
            "adapter": _Adapter(namespace),
            "dbt": _Dbt,
            "var": lambda name, default=None: _VARS.get(name, default),
            "this": '"analytics"."this_model"',
            # parse time: macros that read the database at run time render their
            # fallback (as dbt renders them when it parses)
            "execute": False,
            "is_incremental": lambda: False,
            "run_started_at": __import__("datetime").datetime(2025, 1, 1),
            "exceptions": type("E", (), {"raise_compiler_error": staticmethod(_return)}),
        }
    )
    namespace._module = env.from_string(source).module
    return namespace


_ns = _load()


def __getattr__(name):
    return getattr(_ns, name)
