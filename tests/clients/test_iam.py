"""boto3's IAM and STS clients, unmodified, against a real iamvault server."""
import json
import sys
import unittest

from botocore.exceptions import ClientError

sys.path.insert(0, __import__("os").path.dirname(__file__))
from common import ACCOUNT, client, client_with_keys, error_code  # noqa: E402

TRUST = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})
READ = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Sid": "Read", "Effect": "Allow", "Action": ["iam:Get*", "iam:List*"], "Resource": "*"}],
})


class IamTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.iam = client("iam")
        cls.sts = client("sts")

    def test_caller_identity(self):
        ident = self.sts.get_caller_identity()
        self.assertEqual(ident["Account"], ACCOUNT)
        self.assertEqual(ident["Arn"], f"arn:aws:iam::{ACCOUNT}:user/admin")
        self.assertTrue(ident["UserId"].startswith("AIDA"))

    def test_users_groups_and_errors(self):
        u = self.iam.create_user(UserName="b3-alice", Path="/eng/", Tags=[{"Key": "team", "Value": "platform"}])["User"]
        self.assertEqual(u["Arn"], f"arn:aws:iam::{ACCOUNT}:user/eng/b3-alice")
        with self.assertRaises(ClientError) as e:
            self.iam.create_user(UserName="B3-ALICE")
        self.assertEqual(error_code(e.exception), "EntityAlreadyExists")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 409)
        with self.assertRaises(ClientError) as e:
            self.iam.get_user(UserName="nobody")
        self.assertEqual(error_code(e.exception), "NoSuchEntity")
        with self.assertRaises(ClientError) as e:
            self.iam.create_user(UserName="bad name")
        self.assertEqual(error_code(e.exception), "ValidationError")
        got = self.iam.get_user(UserName="b3-alice")["User"]
        self.assertEqual(got["Tags"], [{"Key": "team", "Value": "platform"}])
        self.iam.create_group(GroupName="b3-devs")
        self.iam.add_user_to_group(GroupName="b3-devs", UserName="b3-alice")
        g = self.iam.get_group(GroupName="b3-devs")
        self.assertEqual([x["UserName"] for x in g["Users"]], ["b3-alice"])
        self.assertEqual(
            [x["GroupName"] for x in self.iam.list_groups_for_user(UserName="b3-alice")["Groups"]], ["b3-devs"]
        )
        with self.assertRaises(ClientError) as e:
            self.iam.delete_user(UserName="b3-alice")
        self.assertEqual(error_code(e.exception), "DeleteConflict")
        self.iam.remove_user_from_group(GroupName="b3-devs", UserName="b3-alice")
        self.iam.delete_user(UserName="b3-alice")
        self.iam.delete_group(GroupName="b3-devs")

    def test_pagination(self):
        for i in range(5):
            self.iam.create_user(UserName=f"page-{i}", Path="/page/")
        first = self.iam.list_users(PathPrefix="/page/", MaxItems=2)
        self.assertTrue(first["IsTruncated"])
        names = [u["UserName"] for u in first["Users"]]
        marker = first["Marker"]
        while marker:
            nxt = self.iam.list_users(PathPrefix="/page/", MaxItems=2, Marker=marker)
            names += [u["UserName"] for u in nxt["Users"]]
            marker = nxt.get("Marker") if nxt["IsTruncated"] else None
        self.assertEqual(names, [f"page-{i}" for i in range(5)])
        paginator = self.iam.get_paginator("list_users")
        all_names = [u["UserName"] for page in paginator.paginate(PathPrefix="/page/", PaginationConfig={"PageSize": 2}) for u in page["Users"]]
        self.assertEqual(all_names, names)

    def test_policies_and_attachments(self):
        p = self.iam.create_policy(PolicyName="b3-read", PolicyDocument=READ, Description="read")["Policy"]
        self.assertEqual(p["DefaultVersionId"], "v1")
        arn = p["Arn"]
        v2 = self.iam.create_policy_version(PolicyArn=arn, PolicyDocument=READ, SetAsDefault=True)["PolicyVersion"]
        self.assertEqual(v2["VersionId"], "v2")
        doc = self.iam.get_policy_version(PolicyArn=arn, VersionId="v2")["PolicyVersion"]["Document"]
        self.assertEqual(doc["Statement"][0]["Sid"], "Read")
        self.assertEqual(len(self.iam.list_policy_versions(PolicyArn=arn)["Versions"]), 2)
        with self.assertRaises(ClientError) as e:
            self.iam.create_policy(PolicyName="bad", PolicyDocument='{"Statement": [{"Effect": "Permit"}]}')
        self.assertEqual(error_code(e.exception), "MalformedPolicyDocument")
        self.iam.create_user(UserName="b3-bob")
        self.iam.attach_user_policy(UserName="b3-bob", PolicyArn=arn)
        att = self.iam.list_attached_user_policies(UserName="b3-bob")["AttachedPolicies"]
        self.assertEqual(att, [{"PolicyName": "b3-read", "PolicyArn": arn}])
        self.iam.put_user_policy(UserName="b3-bob", PolicyName="inline", PolicyDocument=READ)
        self.assertEqual(self.iam.list_user_policies(UserName="b3-bob")["PolicyNames"], ["inline"])
        got = self.iam.get_user_policy(UserName="b3-bob", PolicyName="inline")
        self.assertEqual(got["PolicyDocument"]["Statement"][0]["Action"], ["iam:Get*", "iam:List*"])
        aws = self.iam.list_policies(Scope="AWS")["Policies"]
        self.assertIn("AdministratorAccess", [x["PolicyName"] for x in aws])

    def test_roles_and_instance_profiles(self):
        r = self.iam.create_role(RoleName="b3-web", AssumeRolePolicyDocument=TRUST, MaxSessionDuration=7200)["Role"]
        self.assertTrue(r["RoleId"].startswith("AROA"))
        got = self.iam.get_role(RoleName="b3-web")["Role"]
        self.assertEqual(got["AssumeRolePolicyDocument"]["Statement"][0]["Principal"], {"Service": "ec2.amazonaws.com"})
        self.assertEqual(got["MaxSessionDuration"], 7200)
        self.iam.create_instance_profile(InstanceProfileName="b3-hosts")
        self.iam.add_role_to_instance_profile(InstanceProfileName="b3-hosts", RoleName="b3-web")
        ip = self.iam.get_instance_profile(InstanceProfileName="b3-hosts")["InstanceProfile"]
        self.assertEqual([x["RoleName"] for x in ip["Roles"]], ["b3-web"])
        self.iam.update_role(RoleName="b3-web", MaxSessionDuration=43200, Description="web tier")
        got = self.iam.get_role(RoleName="b3-web")["Role"]
        self.assertEqual((got["MaxSessionDuration"], got["Description"]), (43200, "web tier"))

    def test_access_keys_and_a_user_signing_with_its_own_key(self):
        self.iam.create_user(UserName="b3-carol")
        k = self.iam.create_access_key(UserName="b3-carol")["AccessKey"]
        self.assertTrue(k["AccessKeyId"].startswith("AKIA"))
        self.assertEqual(len(k["SecretAccessKey"]), 40)
        k2 = self.iam.create_access_key(UserName="b3-carol")["AccessKey"]
        with self.assertRaises(ClientError) as e:
            self.iam.create_access_key(UserName="b3-carol")
        self.assertEqual(error_code(e.exception), "LimitExceeded")
        listed = self.iam.list_access_keys(UserName="b3-carol")["AccessKeyMetadata"]
        self.assertEqual(len(listed), 2)
        self.assertNotIn("SecretAccessKey", listed[0])
        carol_iam = client_with_keys("iam", k["AccessKeyId"], k["SecretAccessKey"])
        carol_sts = client_with_keys("sts", k["AccessKeyId"], k["SecretAccessKey"])
        self.assertEqual(carol_sts.get_caller_identity()["Arn"], f"arn:aws:iam::{ACCOUNT}:user/b3-carol")
        # No policy yet: denied, in AWS's words.
        with self.assertRaises(ClientError) as e:
            carol_iam.list_users()
        self.assertEqual(error_code(e.exception), "AccessDenied")
        self.assertEqual(e.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)
        msg = e.exception.response["Error"]["Message"]
        self.assertIn("is not authorized to perform: iam:ListUsers", msg)
        encoded = msg.split("Encoded authorization failure message: ")[1]
        decoded = json.loads(self.sts.decode_authorization_message(EncodedMessage=encoded)["DecodedMessage"])
        self.assertEqual(decoded["context"]["action"], "iam:ListUsers")
        self.assertFalse(decoded["allowed"])
        self.iam.attach_user_policy(UserName="b3-carol", PolicyArn="arn:aws:iam::aws:policy/IAMReadOnlyAccess")
        carol_iam.list_users()
        used = self.iam.get_access_key_last_used(AccessKeyId=k["AccessKeyId"])["AccessKeyLastUsed"]
        self.assertIn(used["ServiceName"], ("iam", "sts"))
        # A deactivated key stops working at once.
        self.iam.update_access_key(UserName="b3-carol", AccessKeyId=k["AccessKeyId"], Status="Inactive")
        with self.assertRaises(ClientError) as e:
            carol_sts.get_caller_identity()
        self.assertEqual(error_code(e.exception), "InvalidClientTokenId")
        # A wrong secret is a signature mismatch.
        bad = client_with_keys("sts", k2["AccessKeyId"], "x" * 40)
        with self.assertRaises(ClientError) as e:
            bad.get_caller_identity()
        self.assertEqual(error_code(e.exception), "SignatureDoesNotMatch")
        info = self.sts.get_access_key_info(AccessKeyId=k["AccessKeyId"])
        self.assertEqual(info["Account"], ACCOUNT)

    def test_simulate_custom_policy(self):
        res = self.iam.simulate_custom_policy(
            PolicyInputList=[READ],
            ActionNames=["iam:GetUser", "iam:CreateUser"],
            ResourceArns=[f"arn:aws:iam::{ACCOUNT}:user/x"],
        )["EvaluationResults"]
        self.assertEqual({r["EvalActionName"]: r["EvalDecision"] for r in res}, {"iam:GetUser": "allowed", "iam:CreateUser": "implicitDeny"})

    def test_metrics_endpoint(self):
        import urllib.request

        self.sts.get_caller_identity()
        text = urllib.request.urlopen(f"{__import__('common').ENDPOINT}/metrics").read().decode()
        self.assertIn('iamvault_requests_total{action="GetCallerIdentity",outcome="ok"}', text)
        self.assertEqual(urllib.request.urlopen(f"{__import__('common').ENDPOINT}/healthz").read(), b"ok\n")

    def test_unknown_action(self):
        with self.assertRaises(ClientError) as e:
            self.iam.list_saml_providers()
        self.assertEqual(error_code(e.exception), "InvalidAction")


if __name__ == "__main__":
    unittest.main(verbosity=2)
