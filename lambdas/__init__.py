"""Everything an AWS Lambda of this package runs (`sagemaker_rollouts.lambdas`): stdlib + boto3.

Entry points (`handler(event, context)`): `canary_hook`, `ab_evaluator`, `drift_job`. Their AWS
edge: `aws_adapter`, `store` (boto3 imported lazily). The pure decisions they take: `controller`
(the canary decision table), `rollout`, `notify`, `scale_down`, `ab_winner`, `drift`;
`records` (frozen dataclasses without code compiled at import). Each function's zip carries its
handler's module and the modules of this folder it imports (`infra/lambda_code.py`
`FUNCTION_MODULES`, checked against the import graph by tests/infra/test_lambda_code.py), so a
module here imports only the standard library, boto3 and this folder. Nothing is exported from
the package itself.
"""

__all__: list[str] = []
