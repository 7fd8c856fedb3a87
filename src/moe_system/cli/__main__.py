"""`python -m moe_system.cli` == `moe`."""

from moe_system.cli import main

main()
