"""Sign-in administration through unmodified boto3: password policy, login profiles,
MFA with pyotp codes, the credential report and the account summary."""
import csv
import io
import json
import os
import subprocess
import sys
import time
import unittest

import pyotp
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(__file__))
from common import ACCOUNT, ENDPOINT, client, client_with_keys, error_code  # noqa: E402

HEADER = ("user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
          "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,"
          "access_key_1_last_used_date,access_key_1_last_used_region,access_key_1_last_used_service,"
          "access_key_2_active,access_key_2_last_rotated,access_key_2_last_used_date,"
          "access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
          "cert_1_last_rotated,cert_2_active,cert_2_last_rotated")


class SignInAdminTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.iam = client("iam")

    def test_password_policy_and_login_profiles(self):
        with self.assertRaises(ClientError) as e:
            self.iam.get_account_password_policy()
        self.assertEqual(error_code(e.exception), "NoSuchEntity")
        self.iam.update_account_password_policy(
            MinimumPasswordLength=12, RequireSymbols=True, RequireNumbers=True,
            AllowUsersToChangePassword=True, PasswordReusePrevention=3, MaxPasswordAge=90)
        pol = self.iam.get_account_password_policy()["PasswordPolicy"]
        self.assertEqual(pol["MinimumPasswordLength"], 12)
        self.assertTrue(pol["ExpirePasswords"])
        self.assertEqual(pol["MaxPasswordAge"], 90)
        self.iam.create_user(UserName="si-alice")
        with self.assertRaises(ClientError) as e:
            self.iam.create_login_profile(UserName="si-alice", Password="short")
        self.assertEqual(error_code(e.exception), "PasswordPolicyViolation")
        msg = e.exception.response["Error"]["Message"]
        self.assertIn("at least 12", msg)
        self.assertIn("a symbol", msg)
        self.assertNotIn("short", msg)
        lp = self.iam.create_login_profile(UserName="si-alice", Password="Good-password-1", PasswordResetRequired=True)["LoginProfile"]
        self.assertTrue(lp["PasswordResetRequired"])
        self.assertEqual(self.iam.get_login_profile(UserName="si-alice")["LoginProfile"]["UserName"], "si-alice")
        # The user changes its own password (AllowUsersToChangePassword).
        k = self.iam.create_access_key(UserName="si-alice")["AccessKey"]
        alice = client_with_keys("iam", k["AccessKeyId"], k["SecretAccessKey"])
        alice.change_password(OldPassword="Good-password-1", NewPassword="Better-password-2")
        with self.assertRaises(ClientError) as e:
            alice.change_password(OldPassword="Better-password-2", NewPassword="Good-password-1")
        self.assertEqual(error_code(e.exception), "PasswordPolicyViolation")
        self.iam.update_login_profile(UserName="si-alice", PasswordResetRequired=False)
        self.iam.delete_login_profile(UserName="si-alice")
        with self.assertRaises(ClientError) as e:
            self.iam.get_login_profile(UserName="si-alice")
        self.assertEqual(error_code(e.exception), "NoSuchEntity")
        self.iam.delete_account_password_policy()

    def test_mfa_with_pyotp(self):
        self.iam.create_user(UserName="si-bob")
        dev = self.iam.create_virtual_mfa_device(VirtualMFADeviceName="si-bob-phone")["VirtualMFADevice"]
        serial = dev["SerialNumber"]
        self.assertEqual(serial, f"arn:aws:iam::{ACCOUNT}:mfa/si-bob-phone")
        self.assertTrue(dev["QRCodePNG"].startswith(b"\x89PNG"))
        totp = pyotp.TOTP(dev["Base32StringSeed"].decode())
        now = time.time()
        with self.assertRaises(ClientError) as e:
            self.iam.enable_mfa_device(UserName="si-bob", SerialNumber=serial,
                                       AuthenticationCode1="000000", AuthenticationCode2="111111")
        self.assertEqual(error_code(e.exception), "InvalidAuthenticationCode")
        self.iam.enable_mfa_device(UserName="si-bob", SerialNumber=serial,
                                   AuthenticationCode1=totp.at(now - 30), AuthenticationCode2=totp.at(now))
        devices = self.iam.list_mfa_devices(UserName="si-bob")["MFADevices"]
        self.assertEqual([d["SerialNumber"] for d in devices], [serial])
        assigned = self.iam.list_virtual_mfa_devices(AssignmentStatus="Assigned")["VirtualMFADevices"]
        self.assertIn(serial, [d["SerialNumber"] for d in assigned])
        with self.assertRaises(ClientError) as e:
            self.iam.delete_virtual_mfa_device(SerialNumber=serial)
        self.assertEqual(error_code(e.exception), "DeleteConflict")
        self.iam.deactivate_mfa_device(UserName="si-bob", SerialNumber=serial)
        self.iam.delete_virtual_mfa_device(SerialNumber=serial)

    def test_credential_report_and_summary(self):
        self.iam.create_user(UserName="si-carol")
        state = self.iam.generate_credential_report()["State"]
        self.assertEqual(state, "COMPLETE")
        rep = self.iam.get_credential_report()
        self.assertEqual(rep["ReportFormat"], "text/csv")
        text = rep["Content"].decode()
        self.assertEqual(text.splitlines()[0], HEADER)
        rows = list(csv.DictReader(io.StringIO(text)))
        self.assertEqual(rows[0]["user"], "<root_account>")
        self.assertEqual(rows[0]["password_enabled"], "not_supported")
        self.assertIn("admin", [r["user"] for r in rows])
        summary = self.iam.get_account_summary()["SummaryMap"]
        self.assertGreaterEqual(summary["Users"], 2)
        self.assertEqual(summary["AccessKeysPerUserQuota"], 2)


class CliTest(unittest.TestCase):
    def test_cli_password_policy(self):
        aws = os.environ.get("IAMVAULT_AWS_CLI") or "aws"
        run = lambda *a: subprocess.run([aws, "--endpoint-url", ENDPOINT, "--output", "json", *a], capture_output=True, text=True)
        p = run("iam", "update-account-password-policy", "--minimum-password-length", "10")
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(run("iam", "get-account-password-policy").stdout)
        self.assertEqual(out["PasswordPolicy"]["MinimumPasswordLength"], 10)
        run("iam", "delete-account-password-policy")


if __name__ == "__main__":
    unittest.main(verbosity=2)
