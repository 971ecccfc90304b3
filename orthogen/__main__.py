"""``python -m orthogen`` runs the command line."""

from orthogen.cli.app import main

main()
