"""Entry point of the `sagemaker-rollouts` component package (run by Pulumi's Python language host).

It hosts `sagemaker_rollouts.infra.multilang.RolloutEndpoint`; Pulumi infers the package schema
from its type annotations (`pulumi.provider.experimental`).
"""

from pulumi.provider.experimental import component_provider_host

from sagemaker_rollouts import __version__
from sagemaker_rollouts.infra.multilang import RolloutEndpoint

PACKAGE = "sagemaker-rollouts"

if __name__ == "__main__":
    component_provider_host(components=[RolloutEndpoint], name=PACKAGE, version=__version__)
