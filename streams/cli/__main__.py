"""`python -m streams.cli`: how the dev stack starts its workers and sink."""

from streams.cli.commands import main

main()
