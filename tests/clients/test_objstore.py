"""Unmodified boto3 `s3` against the reference object store (examples/objstore.rs), which
asks the vault about every request. Started by tests/it/objstore.rs, which set up:

- account 123456789012 (the default) with the admin (AdministratorAccess) and
  - `reader`: no policy of its own; the resource policy of `arn:aws:s3:::shared` lets it
    GetObject, and ListBucket only with s3:prefix "reports/";
  - `nobody`: no policy anywhere;
  - `denied`: identity policy s3:* on *, but the resource policy denies it GetObject;
  - role `web` (EC2 trust, instance web-1 behind the agent) and role `writer` (trusts the
    account): both may PutObject/GetObject on shared/*;
- account 210987654321 with
  - `carol`: identity policy GetObject on shared/*, and named by the resource policy;
  - `dave`: the same identity policy, not named by the resource policy;
  - `erin`: named by the resource policy, no identity policy.
"""
import datetime
import json
import os
import subprocess
import time
import unittest

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialResolver, InstanceMetadataProvider
from botocore.exceptions import ClientError
from botocore.utils import InstanceMetadataFetcher

VAULT = os.environ["IAMVAULT_ENDPOINT"]
STORE = os.environ["IAMVAULT_OBJSTORE"]
AGENT = os.environ["IAMVAULT_AGENT"]
INSTANCE = os.environ["IAMVAULT_INSTANCE_ID"]
BIN = os.environ["IAMVAULT_BIN"]
DATA = os.environ["IAMVAULT_DATA_DIR"]
with open(os.environ["IAMVAULT_OBJSTORE_KEYS"]) as f:
    KEYS = json.load(f)
ACCOUNT = "123456789012"

S3_CONFIG = Config(
    s3={"addressing_style": "path"},
    request_checksum_calculation="when_required",
    response_checksum_validation="when_required",
    retries={"max_attempts": 1},
)


def s3_for(session):
    return session.client("s3", endpoint_url=STORE, region_name="us-east-1", config=S3_CONFIG)


def s3(user=None, token=None, key_id=None, secret=None):
    """An s3 client: the admin's profile, a user's key, or explicit credentials."""
    if user is None and key_id is None:
        return s3_for(boto3.session.Session(profile_name="iamvault-admin"))
    if user is not None:
        key_id, secret = KEYS[user]["id"], KEYS[user]["secret"]
    return s3_for(boto3.session.Session(
        aws_access_key_id=key_id, aws_secret_access_key=secret, aws_session_token=token))


def vault_client(service, session=None):
    session = session or boto3.session.Session(profile_name="iamvault-admin")
    return session.client(service, endpoint_url=VAULT, region_name="us-east-1",
                          config=Config(retries={"max_attempts": 1}))


def agent_session():
    """A boto3 session whose only credential source is the agent's IMDSv2 endpoint."""
    bs = botocore.session.Session()
    fetcher = InstanceMetadataFetcher(timeout=5, num_attempts=2, base_url=AGENT + "/")
    bs.register_component(
        "credential_provider",
        CredentialResolver([InstanceMetadataProvider(iam_role_fetcher=fetcher)]))
    return boto3.session.Session(botocore_session=bs)


def code(exc):
    return exc.exception.response["Error"]["Code"]


def status(exc):
    return exc.exception.response["ResponseMetadata"]["HTTPStatusCode"]


def read(client, key, bucket="shared"):
    return client.get_object(Bucket=bucket, Key=key)["Body"].read()


class ObjstoreTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        admin = s3()
        admin.create_bucket(Bucket="shared")
        admin.put_object(Bucket="shared", Key="reports/q3.csv", Body=b"q,3\n1,2\n")
        admin.put_object(Bucket="shared", Key="private/notes.txt", Body=b"secret plans")

    def assertRefused(self, fn, want="AccessDenied", want_status=403):
        with self.assertRaises(ClientError) as e:
            fn()
        self.assertEqual(code(e), want, e.exception.response)
        self.assertEqual(status(e), want_status)
        return e

    # (a) a resource policy alone
    def test_a_resource_policy_alone_lets_reader_read(self):
        reader = s3("reader")
        self.assertEqual(read(reader, "reports/q3.csv"), b"q,3\n1,2\n")
        head = reader.head_object(Bucket="shared", Key="reports/q3.csv")
        self.assertEqual(head["ContentLength"], 8)
        self.assertTrue(head["ETag"].startswith('"'))
        # Listing is allowed only with the prefix the policy's condition names (s3:prefix).
        listed = reader.list_objects_v2(Bucket="shared", Prefix="reports/")
        self.assertEqual([o["Key"] for o in listed["Contents"]], ["reports/q3.csv"])
        self.assertRefused(lambda: reader.list_objects_v2(Bucket="shared"))
        self.assertRefused(lambda: reader.list_objects_v2(Bucket="shared", Prefix="private/"))
        # Nothing allows it to write or delete.
        self.assertRefused(lambda: reader.put_object(Bucket="shared", Key="reports/x", Body=b"x"))
        self.assertRefused(lambda: reader.delete_object(Bucket="shared", Key="reports/q3.csv"))

    # (b) no allow anywhere
    def test_b_no_allow_is_access_denied(self):
        nobody = s3("nobody")
        e = self.assertRefused(lambda: nobody.get_object(Bucket="shared", Key="reports/q3.csv"))
        self.assertIn("s3:GetObject", e.exception.response["Error"]["Message"])
        self.assertRefused(lambda: nobody.list_objects_v2(Bucket="shared", Prefix="reports/"))
        self.assertRefused(lambda: nobody.put_object(Bucket="shared", Key="n", Body=b"n"))

    # (c) an explicit deny in the resource policy
    def test_c_explicit_deny_in_the_resource_policy_wins(self):
        denied = s3("denied")
        self.assertRefused(lambda: denied.get_object(Bucket="shared", Key="reports/q3.csv"))
        # Its identity policy still allows what the resource policy does not deny.
        denied.put_object(Bucket="shared", Key="from-denied.txt", Body=b"d")
        self.assertEqual(read(s3(), "from-denied.txt"), b"d")

    # (d) + (e) a role session from the agent writes; revoking older sessions bites at once
    def test_d_agent_role_session_writes_and_e_revocation_bites_on_the_next_request(self):
        session = agent_session()
        arn = vault_client("sts", session).get_caller_identity()["Arn"]
        self.assertEqual(arn, f"arn:aws:sts::{ACCOUNT}:assumed-role/web/{INSTANCE}")
        web = s3_for(session)
        web.put_object(Bucket="shared", Key="from-web/1.txt", Body=b"written by web-1")
        self.assertEqual(read(s3(), "from-web/1.txt"), b"written by web-1")
        self.assertEqual(read(web, "from-web/1.txt"), b"written by web-1")

        # AWS's "revoke active sessions": an inline policy denying everything to sessions
        # issued before now. Rounded up to the next second, since token issue times are
        # whole seconds and this session may have been issued in the current one.
        cutoff = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) \
            + datetime.timedelta(seconds=1)
        vault_client("iam").put_role_policy(
            RoleName="web", PolicyName="AWSRevokeOlderSessions",
            PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [{
                "Effect": "Deny", "Action": ["*"], "Resource": ["*"],
                "Condition": {"DateLessThan": {
                    "aws:TokenIssueTime": cutoff.strftime("%Y-%m-%dT%H:%M:%SZ")}}}]}))
        # The very next request with the same credentials is refused.
        self.assertRefused(lambda: web.put_object(Bucket="shared", Key="from-web/2.txt", Body=b"2"))
        self.assertRefused(lambda: web.get_object(Bucket="shared", Key="from-web/1.txt"))

    def test_e_cli_revoke_sessions_refuses_the_session(self):
        creds = vault_client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{ACCOUNT}:role/writer", RoleSessionName="batch")["Credentials"]
        writer = s3(key_id=creds["AccessKeyId"], secret=creds["SecretAccessKey"],
                    token=creds["SessionToken"])
        writer.put_object(Bucket="shared", Key="from-writer.txt", Body=b"w")
        p = subprocess.run([BIN, "--data-dir", DATA, "role", "revoke-sessions", "writer"],
                           capture_output=True, text=True)
        self.assertEqual(p.returncode, 0, p.stderr)
        # The CLI is another process: the running vault picks its change up within a
        # second (a change made through the vault's API, as above, applies at once).
        deadline = time.monotonic() + 5
        while True:
            try:
                writer.get_object(Bucket="shared", Key="from-writer.txt")
            except ClientError as e:
                self.assertIn(e.response["Error"]["Code"],
                              ("AccessDenied", "InvalidToken", "ExpiredToken"), e.response)
                break
            self.assertLess(time.monotonic(), deadline, "the revoked session still reads")
            time.sleep(0.1)
        with self.assertRaises(ClientError):
            writer.put_object(Bucket="shared", Key="from-writer.txt", Body=b"w2")
        self.assertEqual(read(s3(), "from-writer.txt"), b"w")

    # (f) tampered requests
    def test_f_tampered_signature_and_body_are_refused(self):
        reader = s3("reader")

        def flip_signature(request, **_):
            auth = request.headers["Authorization"]
            if isinstance(auth, bytes):
                auth = auth.decode()
            request.headers["Authorization"] = auth[:-1] + ("0" if auth[-1] != "0" else "1")

        reader.meta.events.register_last("before-send.s3.GetObject", flip_signature)
        self.assertRefused(lambda: reader.get_object(Bucket="shared", Key="reports/q3.csv"),
                           "SignatureDoesNotMatch", 403)

        admin = s3()

        def swap_body(request, **_):
            body = request.body if isinstance(request.body, (bytes, bytearray)) else request.body.read()
            request.body = b"X" * len(body)

        admin.meta.events.register_last("before-send.s3.PutObject", swap_body)
        self.assertRefused(lambda: admin.put_object(Bucket="shared", Key="t.txt", Body=b"original"),
                           "XAmzContentSHA256Mismatch", 400)
        self.assertRefused(lambda: s3().get_object(Bucket="shared", Key="t.txt"), "NoSuchKey", 404)

        # An access key the vault never issued.
        ghost = s3(key_id="AKIAIOSFODNN7EXAMPLE", secret="wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
        self.assertRefused(lambda: ghost.get_object(Bucket="shared", Key="reports/q3.csv"),
                           "InvalidAccessKeyId", 403)
        # A session token that is not one.
        fake = s3(key_id="ASIAIOSFODNN7EXAMPLE", secret="x" * 40, token="not-a-token")
        self.assertRefused(lambda: fake.get_object(Bucket="shared", Key="reports/q3.csv"),
                           "InvalidToken", 400)

    # (g) another account: both sides must allow
    def test_g_cross_account_needs_both_sides(self):
        self.assertEqual(read(s3("carol"), "reports/q3.csv"), b"q,3\n1,2\n")
        # Identity policy only: the bucket's account does not allow it.
        self.assertRefused(lambda: s3("dave").get_object(Bucket="shared", Key="reports/q3.csv"))
        # Resource policy only: its own account does not allow it.
        self.assertRefused(lambda: s3("erin").get_object(Bucket="shared", Key="reports/q3.csv"))

    # The object store itself
    def test_objects_buckets_and_listing(self):
        admin = s3()
        admin.create_bucket(Bucket="listing")
        self.assertRefused(lambda: admin.create_bucket(Bucket="listing"), "BucketAlreadyOwnedByYou", 409)
        keys = ["a/1", "a/2", "b/1", "c", "d e+f/\u00fc.txt", "..."]
        for k in keys:
            admin.put_object(Bucket="listing", Key=k, Body=k.encode())
        keys.sort()
        for k in keys:
            self.assertEqual(read(admin, k, "listing"), k.encode())
        listed = admin.list_objects_v2(Bucket="listing")
        self.assertEqual([o["Key"] for o in listed["Contents"]], keys)
        self.assertEqual(listed["KeyCount"], len(keys))
        self.assertEqual(listed["Contents"][0]["Size"], len(keys[0]))
        top = admin.list_objects_v2(Bucket="listing", Delimiter="/")
        self.assertEqual([p["Prefix"] for p in top["CommonPrefixes"]], ["a/", "b/", "d e+f/"])
        self.assertEqual([o["Key"] for o in top["Contents"]], ["...", "c"])
        self.assertEqual([o["Key"] for o in admin.list_objects_v2(Bucket="listing", Prefix="a/")["Contents"]],
                         ["a/1", "a/2"])
        after = admin.list_objects_v2(Bucket="listing", StartAfter="b/1")
        self.assertEqual([o["Key"] for o in after["Contents"]], ["c", "d e+f/\u00fc.txt"])
        pages = admin.get_paginator("list_objects_v2").paginate(
            Bucket="listing", PaginationConfig={"PageSize": 2})
        self.assertEqual([o["Key"] for page in pages for o in page.get("Contents", [])], keys)
        pages = list(admin.get_paginator("list_objects_v2").paginate(
            Bucket="listing", Delimiter="/", PaginationConfig={"PageSize": 1}))
        self.assertGreater(len(pages), 3)
        self.assertEqual(sorted([p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
                                + [o["Key"] for page in pages for o in page.get("Contents", [])]),
                         ["...", "a/", "b/", "c", "d e+f/"])

        admin.delete_object(Bucket="listing", Key="c")
        self.assertRefused(lambda: admin.get_object(Bucket="listing", Key="c"), "NoSuchKey", 404)
        self.assertRefused(lambda: admin.head_object(Bucket="listing", Key="c"), "404", 404)
        self.assertRefused(lambda: admin.delete_bucket(Bucket="listing"), "BucketNotEmpty", 409)
        for k in keys:
            admin.delete_object(Bucket="listing", Key=k)
        admin.delete_bucket(Bucket="listing")
        self.assertRefused(lambda: admin.list_objects_v2(Bucket="listing"), "NoSuchBucket", 404)
        self.assertRefused(lambda: admin.put_object(Bucket="nowhere", Key="k", Body=b""), "NoSuchBucket", 404)

    def test_keys_cannot_leave_the_bucket(self):
        admin = s3()
        for key in ["../escape", "a/../../escape", "./x", "/abs"]:
            with self.assertRaises(ClientError, msg=key) as e:
                admin.put_object(Bucket="shared", Key=key, Body=b"x")
            self.assertEqual((code(e), status(e)), ("InvalidArgument", 400), key)
        admin.put_object(Bucket="shared", Key=".hidden..name", Body=b"h")
        self.assertEqual(read(admin, ".hidden..name"), b"h")
        self.assertRefused(lambda: admin.get_object(Bucket="shared", Key="../shared/reports/q3.csv"),
                           "InvalidArgument", 400)

    def test_unsupported_operations_say_so(self):
        admin = s3()
        self.assertRefused(lambda: admin.list_objects(Bucket="shared"), "NotImplemented", 501)
        self.assertRefused(lambda: admin.get_object_acl(Bucket="shared", Key="reports/q3.csv"),
                           "NotImplemented", 501)
        self.assertRefused(lambda: admin.create_multipart_upload(Bucket="shared", Key="big"),
                           "NotImplemented", 501)


if __name__ == "__main__":
    unittest.main(verbosity=2)
