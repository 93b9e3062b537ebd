"""``python -m revwatch.cli``: the same as the ``revwatch`` command."""

from revwatch.cli import main

main()
