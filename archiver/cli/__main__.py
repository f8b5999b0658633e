"""`python -m archiver.cli`: the same entry point as the `sunshine` command."""

from archiver.cli import main

main()
