"""Producers for the demo, the tests and the benchmark, and the web middleware that
publishes page visits (the web side of the system this pipeline replaces).

- ``candles``, ``footprints``, ``malformed``: message generators (realistic data).
- ``kafka``: a throughput-tuned confluent_kafka Producer and a produce loop with progress.
- ``sample``: the CLI, ``python -m kafka_elt.producers.sample --help``.
- ``middleware``: FootprintMiddleware for FastAPI/Starlette apps.
"""
