"""AWS Lambda handlers (`sagemaker_rollouts.lambdas`): standard library and boto3 only.

Each module is one function's entry point (`canary_hook`, `ab_evaluator`, `drift_job`:
`handler(event, context)`); nothing is exported from the package itself.
"""

__all__: list[str] = []
