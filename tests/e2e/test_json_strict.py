"""Request JSON that json-c would take but RFC 8259 / RFC 3629 refuse
(issue #15, point 8): overlong UTF-8, encoded surrogates, escaped lone
surrogates, raw control characters, NaN, out-of-range numbers.  Each
is a 400 OperationOutcome through lighttpd, on every operation that
takes a FHIR body, and the valid forms of the same text still work."""
import json
import os

import harness

PAYER = harness.basic("test-payer-client", "test-payer-secret")
MM = "/fhir/Patient/$member-match"
EXAMPLE = os.path.join(harness.SRC, "share", "examples", "member-match-001.json")


def example_bytes(family):
    """The shipped member-match example with name.family replaced by the
    raw bytes given (so that they reach the server unchanged)."""
    text = json.dumps(json.load(open(EXAMPLE))).encode()
    return text.replace(b'"Johnson"', b'"' + family + b'"')


class StrictJson(harness.ServerTest):
    def post_raw(self, path, body, **h):
        headers = {"Authorization": PAYER, "Content-Type": "application/fhir+json"}
        headers.update(h)
        return self.request("POST", path, body=body, headers=headers)

    def test_member_match_refuses_malformed_text(self):
        cases = [  # bytes of name.family, words of the diagnostics
            (b"J\xc0\xafohnson", "malformed UTF-8"),          # overlong "/"
            (b"J\xe0\x80\xafohnson", "malformed UTF-8"),      # overlong, 3 bytes
            (b"J\xc0\x80ohnson", "malformed UTF-8"),          # overlong NUL
            (b"J\xed\xa0\x80ohnson", "malformed UTF-8"),      # a surrogate
            (b"J\xf4\x90\x80\x80ohnson", "malformed UTF-8"),  # above U+10FFFF
            (b"J\\ud800ohnson", "unpaired surrogate"),
            (b"J\x01ohnson", "control character"),
        ]
        for family, words in cases:
            with self.subTest(family=family):
                oo = self.assertOutcome(self.post_raw(MM, example_bytes(family)),
                                        400, "structure")
                self.assertIn(words, oo["issue"][0]["diagnostics"])

    def test_bad_numbers_refused(self):
        for num in (b"NaN", b"1e999", b"00", b"18446744073709551616"):
            with self.subTest(num=num):
                body = example_bytes(b"Johnson").replace(
                    b'"resourceType": "Parameters"',
                    b'"resourceType": "Parameters", "x": ' + num, 1)
                self.assertOutcome(self.post_raw(MM, body), 400, "structure")

    def test_bulk_kickoff_refuses_overlong(self):
        body = (b'{"resourceType":"Parameters","parameter":[{"name":"MemberBundle",'
                b'"part":[{"name":"MemberPatient","resource":{"resourceType":"Patient",'
                b'"name":[{"family":"\xc1\xbf"}]}}]}]}')
        r = self.post_raw("/fhir/Group/$bulk-member-match", body, Prefer="respond-async")
        oo = self.assertOutcome(r, 400, "structure")
        self.assertIn("malformed UTF-8", oo["issue"][0]["diagnostics"])

    def test_valid_utf8_and_escaped_pairs_accepted(self):
        # Well-formed multi-byte text and an escaped pair parse; the
        # request then fails only because no such member exists.
        for family in (b"J\xc3\xb6hnson\xf0\x9f\x98\x80", b"J\\ud83d\\ude00"):
            with self.subTest(family=family):
                r = self.post_raw(MM, example_bytes(family))
                self.assertOutcome(r, 422, "not-found")


if __name__ == "__main__":
    import unittest
    unittest.main()
