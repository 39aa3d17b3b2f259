"""STS through unmodified boto3: AssumeRole (same account, ExternalId, MFA condition,
session policies), GetSessionToken, and calls signed with the session credentials."""
import json
import os
import sys
import time
import unittest

import pyotp
from botocore.exceptions import ClientError

sys.path.insert(0, os.path.dirname(__file__))
from common import ACCOUNT, client, client_with_keys, error_code  # noqa: E402


def trust(extra=None):
    st = {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
    if extra:
        st["Condition"] = extra
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})


class StsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.iam = client("iam")
        iam = cls.iam
        iam.create_user(UserName="sts-dan")
        iam.put_user_policy(UserName="sts-dan", PolicyName="assume", PolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}))
        k = iam.create_access_key(UserName="sts-dan")["AccessKey"]
        cls.dan_sts = client_with_keys("sts", k["AccessKeyId"], k["SecretAccessKey"])
        for name, extra in [("sts-reader", None),
                            ("sts-partner", {"StringEquals": {"sts:ExternalId": "partner-42"}}),
                            ("sts-mfa", {"Bool": {"aws:MultiFactorAuthPresent": "true"}})]:
            iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(extra))
            iam.attach_role_policy(RoleName=name, PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")

    def role_arn(self, name):
        return f"arn:aws:iam::{ACCOUNT}:role/{name}"

    def test_assume_role_and_use_the_session(self):
        r = self.dan_sts.assume_role(RoleArn=self.role_arn("sts-reader"), RoleSessionName="dan-session")
        creds = r["Credentials"]
        self.assertTrue(creds["AccessKeyId"].startswith("ASIA"))
        # Temporary key ids carry their account, as AWS's do.
        self.assertEqual(client("sts").get_access_key_info(AccessKeyId=creds["AccessKeyId"])["Account"], ACCOUNT)
        self.assertEqual(r["AssumedRoleUser"]["Arn"], f"arn:aws:sts::{ACCOUNT}:assumed-role/sts-reader/dan-session")
        self.assertTrue(r["AssumedRoleUser"]["AssumedRoleId"].startswith("AROA"))
        self.assertTrue(r["AssumedRoleUser"]["AssumedRoleId"].endswith(":dan-session"))
        sess_sts = client_with_keys("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        ident = sess_sts.get_caller_identity()
        self.assertEqual(ident["Arn"], r["AssumedRoleUser"]["Arn"])
        self.assertEqual(ident["UserId"], r["AssumedRoleUser"]["AssumedRoleId"])
        sess_iam = client_with_keys("iam", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
        sess_iam.list_users()
        with self.assertRaises(ClientError) as e:
            sess_iam.create_user(UserName="nope")
        self.assertEqual(error_code(e.exception), "AccessDenied")
        # A tampered token is refused.
        bad = client_with_keys("sts", creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"][:-4] + "AAAA")
        with self.assertRaises(ClientError) as e:
            bad.get_caller_identity()
        self.assertEqual(error_code(e.exception), "InvalidClientTokenId")

    def test_session_policy_narrows(self):
        deny_all = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "iam:GetUser", "Resource": "*"}]})
        r = self.dan_sts.assume_role(RoleArn=self.role_arn("sts-reader"), RoleSessionName="narrow", Policy=deny_all)
        c = r["Credentials"]
        sess_iam = client_with_keys("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        with self.assertRaises(ClientError) as e:
            sess_iam.list_users()
        self.assertEqual(error_code(e.exception), "AccessDenied")

    def test_external_id(self):
        with self.assertRaises(ClientError) as e:
            self.dan_sts.assume_role(RoleArn=self.role_arn("sts-partner"), RoleSessionName="partner")
        self.assertEqual(error_code(e.exception), "AccessDenied")
        with self.assertRaises(ClientError):
            self.dan_sts.assume_role(RoleArn=self.role_arn("sts-partner"), RoleSessionName="partner", ExternalId="wrong-id")
        self.dan_sts.assume_role(RoleArn=self.role_arn("sts-partner"), RoleSessionName="partner", ExternalId="partner-42")

    def test_mfa_condition_in_the_trust_policy(self):
        dev = self.iam.create_virtual_mfa_device(VirtualMFADeviceName="sts-dan-phone")["VirtualMFADevice"]
        totp = pyotp.TOTP(dev["Base32StringSeed"].decode())
        now = time.time()
        self.iam.enable_mfa_device(UserName="sts-dan", SerialNumber=dev["SerialNumber"],
                                   AuthenticationCode1=totp.at(now - 30), AuthenticationCode2=totp.at(now))
        with self.assertRaises(ClientError) as e:
            self.dan_sts.assume_role(RoleArn=self.role_arn("sts-mfa"), RoleSessionName="with-mfa")
        self.assertEqual(error_code(e.exception), "AccessDenied")
        # The enabling step is spent: use the next one.
        code = totp.at(now + 30)
        r = self.dan_sts.assume_role(RoleArn=self.role_arn("sts-mfa"), RoleSessionName="with-mfa",
                                     SerialNumber=dev["SerialNumber"], TokenCode=code)
        self.assertTrue(r["Credentials"]["AccessKeyId"].startswith("ASIA"))
        # The same code again is a replay.
        with self.assertRaises(ClientError):
            self.dan_sts.assume_role(RoleArn=self.role_arn("sts-mfa"), RoleSessionName="with-mfa",
                                     SerialNumber=dev["SerialNumber"], TokenCode=code)

    def test_limits(self):
        with self.assertRaises(ClientError) as e:
            self.dan_sts.assume_role(RoleArn=self.role_arn("sts-reader"), RoleSessionName="too-long", DurationSeconds=7200)
        self.assertEqual(error_code(e.exception), "ValidationError")

    def test_get_session_token(self):
        r = self.dan_sts.get_session_token(DurationSeconds=900)
        c = r["Credentials"]
        s_sts = client_with_keys("sts", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        self.assertEqual(s_sts.get_caller_identity()["Arn"], f"arn:aws:iam::{ACCOUNT}:user/sts-dan")
        s_iam = client_with_keys("iam", c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])
        with self.assertRaises(ClientError) as e:
            s_iam.get_user()
        self.assertEqual(error_code(e.exception), "AccessDenied")


if __name__ == "__main__":
    unittest.main(verbosity=2)
