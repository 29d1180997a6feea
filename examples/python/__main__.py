"""A platform team's own Pulumi program: its VPC, KMS key and SNS topic, and a canary endpoint.

`RolloutEndpoint` is declared next to the program's own resources and is handed the team's key,
topic and private subnets instead of creating its own. Try it without an AWS account:
`.venv/bin/python -m pytest tests/project/test_examples.py` runs this file under Pulumi's mocks.
"""

import json

import pulumi
import pulumi_aws as aws

from sagemaker_rollouts import RolloutEndpoint, RolloutEndpointArgs
from sagemaker_rollouts.infra.iam import key_policy

config = pulumi.Config()
region = aws.get_region_output().region
identity = aws.get_caller_identity_output()
partition = aws.get_partition_output()

# --- the team's own resources --------------------------------------------------------------
vpc = aws.ec2.Vpc("ml", cidr_block="10.42.0.0/16", enable_dns_hostnames=True)
subnets = [
    aws.ec2.Subnet(f"ml-private-{zone}", vpc_id=vpc.id, cidr_block=cidr, availability_zone=zone)
    for zone, cidr in (("us-east-1a", "10.42.1.0/24"), ("us-east-1b", "10.42.2.0/24"))
]
inference_sg = aws.ec2.SecurityGroup(
    "ml-inference",
    vpc_id=vpc.id,
    description="SageMaker model containers: HTTPS out to the VPC only",
    egress=[
        aws.ec2.SecurityGroupEgressArgs(
            protocol="tcp", from_port=443, to_port=443, cidr_blocks=["10.42.0.0/16"]
        )
    ],
)
# The key policy the component would use for its own key: IAM decides, plus CloudWatch Logs.
key = aws.kms.Key(
    "ml-data",
    description="fraud team: capture, rollout state, logs, notifications",
    enable_key_rotation=True,
    policy=pulumi.Output.all(identity.account_id, region, partition.partition).apply(
        lambda a: json.dumps(key_policy(account=a[0], region=a[1], partition=a[2]))
    ),
)
alerts = aws.sns.Topic("ml-alerts", kms_master_key_id=key.arn)

# --- the rolled-out endpoint ---------------------------------------------------------------
image = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"
fraud = RolloutEndpoint(
    "fraud",
    RolloutEndpointArgs.parse(
        {
            "endpoint_name": "fraud-detector",
            "models": {
                "v1": {
                    "image": image,
                    "model_data_url": "s3://acme-ml-models/fraud/v1/model.tar.gz",
                },
                "v2": {"image": image, "model_data_url": config.require("candidate_model")},
            },
            "variants": [
                {
                    "name": "stable",
                    "model": "v1",
                    "instance_type": "ml.m5.large",
                    "instance_count": 2,
                },
                {"name": "candidate", "model": "v2", "instance_type": "ml.m5.large"},
            ],
            "strategy": {
                "canary": {"stable": "stable", "candidate": "candidate", "steps": [5, 25, 50]}
            },
            "alarms": {"errors_5xx": {"threshold": 5, "evaluation_periods": 1}},
            "data_capture": {"sampling_percent": 20},
            "tags": {"team": "fraud"},
            # brought by the platform instead of declared by the component
            "kms_key_arn": key.arn,
            "notification_topic_arn": alerts.arn,
            "vpc_subnet_ids": [s.id for s in subnets],
            "vpc_security_group_ids": [inference_sg.id],
        }
    ),
)

pulumi.export("endpoint_name", fraud.endpoint_name)
pulumi.export("variant_names", fraud.variant_names)
pulumi.export("alarm_names", fraud.alarm_names)
pulumi.export("capture_uri", fraud.capture_uri)
pulumi.export("hook_function", fraud.hook_function_name)
