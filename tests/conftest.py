"""Hypothesis profiles for the whole suite.

``HYPOTHESIS_PROFILE=ci`` runs every property 500 times; the default ``dev``
profile runs 100 for quick local runs.
"""

import os

from hypothesis import settings

settings.register_profile("ci", max_examples=500, deadline=None)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
