"""Run the command line as `python -m nanoqueue`."""

from nanoqueue.cli import main

main()
