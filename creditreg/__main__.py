"""``python -m creditreg``: the same command line as the ``creditreg`` script."""

from creditreg.cli import app

app()
