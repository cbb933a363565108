"""`python -m vocals` is the `vocals` command."""

from vocals.cli import main

main()
