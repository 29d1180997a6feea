"""Everything an AWS Lambda of this package runs (`sagemaker_rollouts.lambdas`): stdlib + boto3.

Entry points (`handler(event, context)`): `canary_hook`, `ab_evaluator`, `drift_job`. Their AWS
edge: `aws_adapter`, `store` (boto3 imported lazily). The pure decisions they take: `controller`
(the canary decision table), `rollout`, `notify`, `scale_down`, `ab_winner`, `drift`. Each
function's zip carries this whole folder (`infra/lambda_code.py`), so a module here imports only
the standard library, boto3 and this folder. Nothing is exported from the package itself.
"""

__all__: list[str] = []
