"""The Pulumi program `pulumi up` runs: read the stack config, plan, render."""

from sagemaker_rollouts.infra.program import main

main()
