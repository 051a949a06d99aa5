"""``python -m launchdeck`` runs the CLI."""

from launchdeck.cli import main

main()
