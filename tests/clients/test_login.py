"""The vault login API, `iamvault login` and `iamvault credential-process`, with the AWS
CLI using what they write."""
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.error
import urllib.request

import pyotp

sys.path.insert(0, os.path.dirname(__file__))
from common import ACCOUNT, ENDPOINT, client  # noqa: E402

BIN = os.environ["IAMVAULT_BIN"]
AWS = os.environ.get("IAMVAULT_AWS_CLI") or "aws"


def post_login(body):
    req = urllib.request.Request(f"{ENDPOINT}/vault/v1/login", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


class LoginTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.iam = client("iam")
        cls.iam.create_user(UserName="li-eve")
        cls.iam.create_login_profile(UserName="li-eve", Password="Eve-password-1")
        cls.iam.attach_user_policy(UserName="li-eve", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        cls.dir = tempfile.mkdtemp()
        cls.pwfile = os.path.join(cls.dir, "pw")
        with open(cls.pwfile, "w") as f:
            f.write("Eve-password-1\n")

    def aws(self, *args, env=None):
        return subprocess.run([AWS, "--endpoint-url", ENDPOINT, "--output", "json", *args],
                              capture_output=True, text=True, env=env)

    def test_failures_are_identical(self):
        bodies = set()
        for body in [
            {"account_id": ACCOUNT, "user_name": "li-eve", "password": "wrong"},
            {"account_id": ACCOUNT, "user_name": "nobody-here", "password": "Eve-password-1"},
            {"account_id": ACCOUNT, "user_name": "admin", "password": "x"},
            {"account_id": "000000000000", "user_name": "li-eve", "password": "Eve-password-1"},
        ]:
            status, raw = post_login(body)
            self.assertEqual(status, 401)
            bodies.add(raw)
        self.assertEqual(bodies, {b'{"error":"AuthenticationFailed"}'})
        status, raw = post_login({"account_id": ACCOUNT, "user_name": "li-eve", "password": "Eve-password-1"})
        self.assertEqual(status, 200, raw)
        out = json.loads(raw)
        self.assertTrue(out["Credentials"]["AccessKeyId"].startswith("ASIA"))
        self.assertFalse(out["MfaAuthenticated"])

    def test_login_is_rate_limited_per_user_name(self):
        # 10 at once, then one every 3 s: a slow (debug, loaded) run may earn a refill or
        # two, so send until the first 429 rather than counting on exact timing.
        codes = []
        for _ in range(40):
            codes.append(post_login({"account_id": ACCOUNT, "user_name": "li-throttled", "password": "x"})[0])
            if codes[-1] != 401:
                break
        self.assertEqual(codes[-1], 429, codes)
        self.assertGreaterEqual(len(codes) - 1, 10, codes)
        self.assertEqual(set(codes[:-1]), {401}, codes)

    def test_login_writes_a_profile_the_cli_uses(self):
        cred = os.path.join(self.dir, "credentials")
        p = subprocess.run([BIN, "login", "--endpoint", ENDPOINT, "--account", ACCOUNT, "--user", "li-eve",
                            "--password-file", self.pwfile, "--profile", "eve", "--credentials-file", cred],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(stat.S_IMODE(os.stat(cred).st_mode), 0o600)
        env = dict(os.environ, AWS_SHARED_CREDENTIALS_FILE=cred, AWS_PROFILE="eve")
        out = self.aws("sts", "get-caller-identity", env=env)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertEqual(json.loads(out.stdout)["Arn"], f"arn:aws:iam::{ACCOUNT}:user/li-eve")
        # Without MFA, a sign-in session cannot call IAM.
        self.assertNotEqual(self.aws("iam", "list-users", env=env).returncode, 0)

    def test_login_duration_is_sent(self):
        import datetime
        base = [BIN, "login", "--endpoint", ENDPOINT, "--account", ACCOUNT, "--user", "li-eve",
                "--password-file", self.pwfile, "--format", "credential-process"]
        p = subprocess.run(base + ["--duration", "900"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)
        exp = datetime.datetime.fromisoformat(json.loads(p.stdout)["Expiration"].replace("Z", "+00:00"))
        left = (exp - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        self.assertTrue(0 < left <= 900, left)
        # Out of range: refused by the CLI before anything is sent.
        p = subprocess.run(base + ["--duration", "899"], capture_output=True, text=True, stdin=subprocess.DEVNULL)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("900", p.stderr)

    def test_login_with_mfa_then_iam(self):
        self.iam.create_user(UserName="li-fred")
        self.iam.create_login_profile(UserName="li-fred", Password="Fred-password-1")
        self.iam.attach_user_policy(UserName="li-fred", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        dev = self.iam.create_virtual_mfa_device(VirtualMFADeviceName="li-fred-phone")["VirtualMFADevice"]
        totp = pyotp.TOTP(dev["Base32StringSeed"].decode())
        now = time.time()
        self.iam.enable_mfa_device(UserName="li-fred", SerialNumber=dev["SerialNumber"],
                                   AuthenticationCode1=totp.at(now - 30), AuthenticationCode2=totp.at(now))
        pw = os.path.join(self.dir, "fredpw")
        with open(pw, "w") as f:
            f.write("Fred-password-1\n")
        p = subprocess.run([BIN, "login", "--endpoint", ENDPOINT, "--account", ACCOUNT, "--user", "li-fred",
                            "--password-file", pw, "--format", "env"], capture_output=True, text=True,
                           stdin=subprocess.DEVNULL)
        self.assertNotEqual(p.returncode, 0, "MFA is required once enabled")
        p = subprocess.run([BIN, "login", "--endpoint", ENDPOINT, "--account", ACCOUNT, "--user", "li-fred",
                            "--password-file", pw, "--mfa-code", totp.at(now + 30), "--format", "credential-process"],
                           capture_output=True, text=True, stdin=subprocess.DEVNULL)
        self.assertEqual(p.returncode, 0, p.stderr)
        c = json.loads(p.stdout)
        self.assertEqual(c["Version"], 1)
        env = dict(os.environ, AWS_ACCESS_KEY_ID=c["AccessKeyId"], AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"],
                   AWS_SESSION_TOKEN=c["SessionToken"])
        env.pop("AWS_PROFILE", None)
        out = self.aws("iam", "list-users", env=env)
        self.assertEqual(out.returncode, 0, out.stderr)

    def test_credential_process_profile(self):
        self.iam.create_user(UserName="li-gus")
        self.iam.put_user_policy(UserName="li-gus", PolicyName="assume", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
        self.iam.create_role(RoleName="li-role", AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]}))
        k = self.iam.create_access_key(UserName="li-gus")["AccessKey"]
        cred = os.path.join(self.dir, "gus-credentials")
        with open(cred, "w") as f:
            f.write(f"[gus]\naws_access_key_id = {k['AccessKeyId']}\naws_secret_access_key = {k['SecretAccessKey']}\n")
        cache = os.path.join(self.dir, "cache")
        config = os.path.join(self.dir, "config")
        cmd = (f"{BIN} credential-process --endpoint {ENDPOINT} --source-profile gus "
               f"--role-arn arn:aws:iam::{ACCOUNT}:role/li-role --credentials-file {cred} --cache-dir {cache}")
        with open(config, "w") as f:
            f.write(f"[profile cp]\ncredential_process = {cmd}\nregion = us-east-1\n")
        env = dict(os.environ, AWS_CONFIG_FILE=config, AWS_PROFILE="cp", AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.dir, "none"))
        for _ in range(2):
            out = self.aws("sts", "get-caller-identity", env=env)
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertEqual(json.loads(out.stdout)["Arn"],
                             f"arn:aws:sts::{ACCOUNT}:assumed-role/li-role/iamvault-credential-process")
        files = os.listdir(cache)
        self.assertEqual(len(files), 1)
        self.assertEqual(stat.S_IMODE(os.stat(os.path.join(cache, files[0])).st_mode), 0o600)


if __name__ == "__main__":
    unittest.main(verbosity=2)
