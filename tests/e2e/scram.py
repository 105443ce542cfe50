"""scram - the client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) for tests.

Raw messages (bytes):
    c = ScramClient(user, password)
    c.first_message()                    client-first
    c.final_message(server_first)        client-final, with the proof
    c.verify_message(server_final)       the server proved it knows the password
The same in base64 text, for SMTP AUTH and POP3 AUTH lines: first(),
final(server_first_b64), verify(server_final_b64). And as an imaplib
authobject: imap.authenticate("SCRAM-SHA-256", c) calls c(challenge).
"""

import base64
import hashlib
import hmac
import os


class ScramClient:
    def __init__(self, user, password):
        self.user = user
        self.password = password
        self.cnonce = base64.b64encode(os.urandom(18)).decode()
        name = user.replace("=", "=3D").replace(",", "=2C")
        self.first_bare = "n=%s,r=%s" % (name, self.cnonce)
        self.auth_msg = None
        self.salted = None
        self.step = 0
        self.verified = False
        self.error = None

    # ---- raw messages

    def first_message(self):
        return ("n,," + self.first_bare).encode()

    def final_message(self, server_first):
        server_first = server_first.decode()
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        assert attrs["r"].startswith(self.cnonce) and len(attrs["r"]) > len(self.cnonce)
        salt = base64.b64decode(attrs["s"])
        self.salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt,
                                          int(attrs["i"]))
        client_key = hmac.new(self.salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = "c=biws,r=" + attrs["r"]
        self.auth_msg = ",".join([self.first_bare, server_first, without_proof]).encode()
        sig = hmac.new(stored_key, self.auth_msg, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        return (without_proof + ",p=" + base64.b64encode(proof).decode()).encode()

    def verify_message(self, server_final):
        server_key = hmac.new(self.salted, b"Server Key", hashlib.sha256).digest()
        want = base64.b64encode(hmac.new(server_key, self.auth_msg, hashlib.sha256).digest())
        assert server_final == b"v=" + want, server_final
        self.verified = True

    # ---- base64 text (SMTP, POP3)

    def first(self):
        return base64.b64encode(self.first_message()).decode()

    def final(self, server_first_b64):
        return base64.b64encode(self.final_message(base64.b64decode(server_first_b64))).decode()

    def verify(self, server_final_b64):
        self.verify_message(base64.b64decode(server_final_b64))

    # ---- imaplib authobject: called with each decoded challenge

    def __call__(self, challenge):
        self.step += 1
        if self.step == 1:
            assert challenge == b"", challenge
            return self.first_message()
        if self.step == 2:
            return self.final_message(challenge)
        if challenge.startswith(b"e="):
            self.error = challenge
            return b""
        self.verify_message(challenge)
        return b""
