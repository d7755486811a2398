"""The suite's fixtures are the ones plugin authors get: ``community.testing``, loaded with
``-p community.testing`` (``addopts`` in ``pyproject.toml``). Import helpers from there."""
