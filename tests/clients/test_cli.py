"""The AWS CLI, unmodified, against a real iamvault server."""
import json
import os
import subprocess
import unittest

ENDPOINT = os.environ["IAMVAULT_ENDPOINT"]
AWS = os.environ.get("IAMVAULT_AWS_CLI") or "aws"


def aws(*args, check=True):
    p = subprocess.run([AWS, "--endpoint-url", ENDPOINT, "--output", "json", *args], capture_output=True, text=True)
    if check and p.returncode != 0:
        raise AssertionError(f"aws {' '.join(args)} failed ({p.returncode}): {p.stderr}")
    return p


class CliTest(unittest.TestCase):
    def test_identity(self):
        out = json.loads(aws("sts", "get-caller-identity").stdout)
        self.assertEqual(out["Account"], "123456789012")

    def test_user_lifecycle(self):
        aws("iam", "create-user", "--user-name", "cli-dave")
        users = json.loads(aws("iam", "list-users").stdout)["Users"]
        self.assertIn("cli-dave", [u["UserName"] for u in users])
        key = json.loads(aws("iam", "create-access-key", "--user-name", "cli-dave").stdout)["AccessKey"]
        self.assertEqual(key["Status"], "Active")
        p = aws("iam", "delete-user", "--user-name", "cli-dave", check=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("DeleteConflict", p.stderr)
        aws("iam", "delete-access-key", "--user-name", "cli-dave", "--access-key-id", key["AccessKeyId"])
        aws("iam", "delete-user", "--user-name", "cli-dave")
        p = aws("iam", "get-user", "--user-name", "cli-dave", check=False)
        self.assertIn("NoSuchEntity", p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
