"""Protocol edges seen by real clients: unsigned requests, presigned URLs, XML errors."""
import os
import sys
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
from common import ACCOUNT, ENDPOINT, client  # noqa: E402


class ProtocolTest(unittest.TestCase):
    def test_unsigned_request_is_missing_authentication_token(self):
        req = urllib.request.Request(ENDPOINT + "/", data=b"Action=GetCallerIdentity&Version=2011-06-15",
                                     headers={"content-type": "application/x-www-form-urlencoded"}, method="POST")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req)
        self.assertEqual(e.exception.code, 403)
        body = e.exception.read().decode()
        self.assertIn("<Code>MissingAuthenticationToken</Code>", body)
        self.assertIn("<RequestId>", body)

    def test_presigned_get_caller_identity(self):
        sts = client("sts")
        url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=60)
        self.assertIn("X-Amz-Signature=", url)
        # Query-protocol operations are POSTs; the presigned URL carries everything.
        with urllib.request.urlopen(urllib.request.Request(url, data=b"", method="POST")) as r:
            body = r.read().decode()
        self.assertIn(f"<Account>{ACCOUNT}</Account>", body)
        # Tampering with the presigned signature is refused.
        bad = url.replace("X-Amz-Signature=", "X-Amz-Signature=0")
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(bad, data=b"", method="POST"))
        self.assertIn(e.exception.code, (400, 403))
        # A body added to a presigned request is not covered by its signature.
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(url, data=b"MaxItems=1", method="POST"))
        self.assertEqual(e.exception.code, 403)
        self.assertIn(b"SignatureDoesNotMatch", e.exception.read())
        # Repeating a signed parameter in the body is refused before anything runs.
        with self.assertRaises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(urllib.request.Request(url, data=b"Action=ListUsers", method="POST"))
        self.assertEqual(e.exception.code, 400)


if __name__ == "__main__":
    unittest.main(verbosity=2)
