"""``python -m orthogen`` runs the command line."""

from orthogen.cli import main

main()
