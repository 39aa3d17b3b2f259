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


class RotateKeyTest(unittest.TestCase):
    def test_rotate_key_then_use_the_profile(self):
        import stat
        import tempfile

        aws("iam", "create-user", "--user-name", "rot-erin")
        aws("iam", "attach-user-policy", "--user-name", "rot-erin", "--policy-arn",
            "arn:aws:iam::aws:policy/IAMFullAccess")
        key = json.loads(aws("iam", "create-access-key", "--user-name", "rot-erin").stdout)["AccessKey"]
        d = tempfile.mkdtemp()
        cred = os.path.join(d, "credentials")
        with open(cred, "w") as f:
            f.write(f"# keep me\n[erin]\naws_access_key_id = {key['AccessKeyId']}\n"
                    f"aws_secret_access_key = {key['SecretAccessKey']}\nregion = us-east-1\n")
        os.chmod(cred, 0o640)
        p = subprocess.run([os.environ["IAMVAULT_BIN"], "rotate-key", "--endpoint", ENDPOINT, "--profile", "erin",
                            "--credentials-file", cred, "--output", "json"], capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        report = json.loads(p.stdout)
        self.assertEqual(report["old_access_key_id"], key["AccessKeyId"])
        self.assertTrue(report["old_key_deleted"])
        self.assertTrue(report["arn"].endswith(":user/rot-erin"))
        text = open(cred).read()
        self.assertTrue(text.startswith("# keep me\n[erin]\n"), text)
        self.assertNotIn(key["AccessKeyId"], text)
        self.assertEqual(stat.S_IMODE(os.stat(cred).st_mode), 0o640)
        env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=cred, AWS_PROFILE="erin")
        out = subprocess.run([AWS, "--endpoint-url", ENDPOINT, "--output", "json", "sts", "get-caller-identity"],
                             capture_output=True, text=True, env=env)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(json.loads(out.stdout)["Arn"].endswith(":user/rot-erin"))
        keys = json.loads(aws("iam", "list-access-keys", "--user-name", "rot-erin").stdout)["AccessKeyMetadata"]
        self.assertEqual([k["AccessKeyId"] for k in keys], [report["new_access_key_id"]])

    def test_rotation_with_two_keys_changes_nothing(self):
        import tempfile

        aws("iam", "create-user", "--user-name", "rot-fay")
        aws("iam", "attach-user-policy", "--user-name", "rot-fay", "--policy-arn",
            "arn:aws:iam::aws:policy/IAMFullAccess")
        key = json.loads(aws("iam", "create-access-key", "--user-name", "rot-fay").stdout)["AccessKey"]
        aws("iam", "create-access-key", "--user-name", "rot-fay")
        d = tempfile.mkdtemp()
        cred = os.path.join(d, "credentials")
        body = f"[fay]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {key['SecretAccessKey']}\n"
        with open(cred, "w") as f:
            f.write(body)
        p = subprocess.run([os.environ["IAMVAULT_BIN"], "rotate-key", "--endpoint", ENDPOINT, "--profile", "fay",
                            "--credentials-file", cred], capture_output=True, text=True)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("LimitExceeded", p.stderr)
        self.assertEqual(open(cred).read(), body)

    def test_rotation_with_mfa_when_policy_requires_it(self):
        import tempfile
        import time

        import pyotp
        import boto3

        iam = boto3.client("iam", endpoint_url=ENDPOINT, region_name="us-east-1")
        iam.create_user(UserName="rot-mfa")
        iam.put_user_policy(UserName="rot-mfa", PolicyName="keys-with-mfa", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "iam:*AccessKey*", "Resource": "*",
                           "Condition": {"Bool": {"aws:MultiFactorAuthPresent": "true"}}}]}))
        dev = iam.create_virtual_mfa_device(VirtualMFADeviceName="rot-mfa-phone")["VirtualMFADevice"]
        totp = pyotp.TOTP(dev["Base32StringSeed"].decode())
        now = time.time()
        iam.enable_mfa_device(UserName="rot-mfa", SerialNumber=dev["SerialNumber"],
                              AuthenticationCode1=totp.at(now - 30), AuthenticationCode2=totp.at(now))
        key = iam.create_access_key(UserName="rot-mfa")["AccessKey"]
        d = tempfile.mkdtemp()
        cred = os.path.join(d, "credentials")
        body = f"[m]\naws_access_key_id = {key['AccessKeyId']}\naws_secret_access_key = {key['SecretAccessKey']}\n"
        with open(cred, "w") as f:
            f.write(body)
        base = [os.environ["IAMVAULT_BIN"], "rotate-key", "--endpoint", ENDPOINT, "--profile", "m", "--credentials-file", cred]
        p = subprocess.run(base, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        self.assertNotEqual(p.returncode, 0)
        self.assertEqual(open(cred).read(), body)
        p = subprocess.run(base + ["--mfa-serial", dev["SerialNumber"], "--mfa-code", totp.at(now + 30), "--output", "json"],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertTrue(json.loads(p.stdout)["old_key_deleted"])
        keys = iam.list_access_keys(UserName="rot-mfa")["AccessKeyMetadata"]
        self.assertEqual(len(keys), 1)
        self.assertNotEqual(keys[0]["AccessKeyId"], key["AccessKeyId"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
