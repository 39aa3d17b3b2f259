"""Unmodified boto3 and AWS CLI in child processes with no credentials in their
environment: they find role credentials through the agent's IMDSv2 endpoint and its
container credentials endpoint."""
import json
import os
import subprocess
import sys
import unittest
import urllib.error
import urllib.request

ENDPOINT = os.environ["IAMVAULT_ENDPOINT"]
AGENT = os.environ["IAMVAULT_AGENT"]
INSTANCE = os.environ["IAMVAULT_INSTANCE_ID"]
TOKEN_FILE = os.environ["IAMVAULT_CONTAINER_TOKEN_FILE"]
AWS = os.environ.get("IAMVAULT_AWS_CLI") or "aws"

BASE_ENV = {
    "PATH": os.environ["PATH"],
    "HOME": os.environ["HOME"],
    "AWS_CONFIG_FILE": "/nonexistent/config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
    "AWS_DEFAULT_REGION": "us-east-1",
}

WHOAMI = ("import boto3,sys; "
          "print(boto3.client('sts', endpoint_url=sys.argv[1]).get_caller_identity()['Arn'])")


def child(env_extra, code=WHOAMI):
    env = dict(BASE_ENV, **env_extra)
    return subprocess.run([sys.executable, "-c", code, ENDPOINT], capture_output=True, text=True, env=env)


class WorkloadTest(unittest.TestCase):
    expected = f"arn:aws:sts::123456789012:assumed-role/web/{INSTANCE}"

    def test_imdsv2_with_boto3(self):
        p = child({"AWS_EC2_METADATA_SERVICE_ENDPOINT": AGENT + "/"})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), self.expected)

    def test_container_credentials_with_boto3(self):
        p = child({"AWS_CONTAINER_CREDENTIALS_FULL_URI": AGENT + "/v1/container-credentials",
                   "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": TOKEN_FILE,
                   "AWS_EC2_METADATA_DISABLED": "true"})
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.strip(), self.expected)

    def test_aws_cli_via_imds(self):
        env = dict(BASE_ENV, AWS_EC2_METADATA_SERVICE_ENDPOINT=AGENT + "/")
        p = subprocess.run([AWS, "--endpoint-url", ENDPOINT, "--output", "json", "sts", "get-caller-identity"],
                           capture_output=True, text=True, env=env)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["Arn"], self.expected)

    def test_imds_protocol_rules(self):
        # GET without a token: 401 (IMDSv1 is off).
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(AGENT + "/latest/meta-data/instance-id")
        self.assertEqual(e.exception.code, 401)
        # A PUT carrying X-Forwarded-For is refused.
        req = urllib.request.Request(AGENT + "/latest/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "1.2.3.4"})
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req)
        self.assertEqual(e.exception.code, 403)
        # TTL outside 1-21600 is refused; a good one is echoed.
        bad = urllib.request.Request(AGENT + "/latest/api/token", method="PUT",
                                     headers={"X-aws-ec2-metadata-token-ttl-seconds": "21601"})
        with self.assertRaises(urllib.error.HTTPError):
            urllib.request.urlopen(bad)
        ok = urllib.request.Request(AGENT + "/latest/api/token", method="PUT",
                                    headers={"X-aws-ec2-metadata-token-ttl-seconds": "120"})
        with urllib.request.urlopen(ok) as r:
            token = r.read().decode()
            self.assertEqual(r.headers["X-aws-ec2-metadata-token-ttl-seconds"], "120")
        get = lambda p: urllib.request.urlopen(urllib.request.Request(AGENT + p, headers={"X-aws-ec2-metadata-token": token})).read().decode()
        self.assertEqual(get("/latest/meta-data/instance-id"), INSTANCE)
        self.assertEqual(get("/latest/meta-data/iam/security-credentials/"), "web")
        creds = json.loads(get("/latest/meta-data/iam/security-credentials/web"))
        self.assertEqual(creds["Code"], "Success")
        self.assertEqual(creds["Type"], "AWS-HMAC")
        self.assertRegex(creds["Expiration"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        info = json.loads(get("/latest/meta-data/iam/info"))
        self.assertEqual(info["Code"], "Success")
        # The container endpoint checks its bearer token.
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(AGENT + "/v1/container-credentials", headers={"Authorization": "wrong"}))
        self.assertEqual(e.exception.code, 401)


if __name__ == "__main__":
    unittest.main(verbosity=2)
