"""The Pulumi program `pulumi up` runs: read the stack config, plan, render."""

from sagemaker_rollouts.infra import aws_loader
from sagemaker_rollouts.infra.gc_policy import for_this_program
from sagemaker_rollouts.infra.program import main

# pulumi_aws's service packages are loaded class by class: only the classes this program declares
# are executed (why, and what it costs: infra/aws_loader.py).
aws_loader.install()

# This process exists for one evaluation: full garbage collections are made rare for all of it,
# after the imports so that they are frozen too (why, and what it costs: infra/gc_policy.py).
for_this_program()
main()
