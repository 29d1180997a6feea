"""Entry point of the `sagemaker-rollouts` component package (run by Pulumi's Python language host).

It hosts `sagemaker_rollouts.infra.multilang.RolloutEndpoint`; Pulumi infers the package schema
from its type annotations (`pulumi.provider.experimental`).
"""

from pulumi.provider.experimental import component_provider_host

from sagemaker_rollouts import __version__
from sagemaker_rollouts.infra import aws_loader
from sagemaker_rollouts.infra.multilang import RolloutEndpoint

PACKAGE = "sagemaker-rollouts"

if __name__ == "__main__":
    # This process hosts the component for one deployment, as the project's own __main__.py
    # evaluates one program: pulumi_aws's service packages load class by class here too (only the
    # classes the component declares are executed; why, and what it costs: infra/aws_loader.py).
    # None is loaded yet: pulumi_aws's services stay lazy until first used.
    aws_loader.install()
    component_provider_host(components=[RolloutEndpoint], name=PACKAGE, version=__version__)
