"""The only package that talks to AWS (boto3, botocore). The rest of the controller sees the
typed views and the FleetCloud protocol of controller.domain.cloud."""

from controller.adapters.aws.fleet import AwsFleet
from controller.adapters.aws.session import AwsSettings

__all__ = ["AwsFleet", "AwsSettings"]
