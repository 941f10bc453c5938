"""The `kb` command line. Settings for the kb process only, before any library loads."""

import os

# pydantic looks for plugins by scanning every installed package's entry points when the first
# model is built; kb uses none, and the scan is a noticeable share of a cold `kb search`.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
