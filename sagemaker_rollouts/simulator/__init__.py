"""The offline simulator (`sagemaker_rollouts.simulator`): everything that stands in for AWS and
the Pulumi engine so `rollout plan` and `rollout rehearse` (and the tests) need neither.

- `mockrun`: the real Pulumi program under `pulumi.runtime.set_mocks`, recording what the engine
  would see (`run_offline`, `run_function_offline`);
- `moto_server`, `provision`: moto in server mode on 127.0.0.1, and a plan provisioned into it;
- `alarm_sim`: CloudWatch alarm evaluation from fed metrics (moto does not evaluate alarms);
- `capture_gen`: synthetic data-capture files in SageMaker's format;
- `scenario`: the rehearsal scenario file;
- `native`: blue/green, rolling and recreate rehearsed through the guardrails model.

Nothing here is imported by what `pulumi up` or a Lambda runs.
"""

__all__: list[str] = []
