"""Shared set-up for the client tests: unmodified boto3 pointed at the vault."""
import os

import boto3
from botocore.config import Config

ENDPOINT = os.environ["IAMVAULT_ENDPOINT"]
ACCOUNT = "123456789012"


def client(service, **kw):
    """A boto3 client for `service` at the vault, with the admin profile unless keys are given."""
    session = boto3.session.Session(
        aws_access_key_id=kw.pop("aws_access_key_id", None),
        aws_secret_access_key=kw.pop("aws_secret_access_key", None),
        aws_session_token=kw.pop("aws_session_token", None),
        profile_name=None if "key" in kw else None,
    )
    return session.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1}),
        **kw,
    )


def client_with_keys(service, key_id, secret, token=None):
    return boto3.session.Session(
        aws_access_key_id=key_id, aws_secret_access_key=secret, aws_session_token=token
    ).client(service, endpoint_url=ENDPOINT, region_name="us-east-1", config=Config(retries={"max_attempts": 1}))


def error_code(exc):
    return exc.response["Error"]["Code"]
