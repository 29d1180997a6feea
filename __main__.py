"""The Pulumi program `pulumi up` runs: read the stack config, plan, render."""

from infra.program import main

main()
