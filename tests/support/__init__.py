"""Test support: helpers the tests share, kept out of the runtime package (plugins/), so
the Airflow image does not ship them.

Imported as ``tests.support``: pytest puts the repository root on ``sys.path``
(``pythonpath`` in pyproject.toml); a script run outside pytest needs the root there too.
"""
