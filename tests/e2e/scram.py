"""scram - the client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) for tests.

    c = ScramClient(user, password)
    send c.first()                       base64 client-first message
    send c.final(server_first_b64)       base64 client-final message (with proof)
    c.verify(server_final_b64)           the server proved it knows the password
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
        self.first_bare = "n=%s,r=%s" % (user, self.cnonce)
        self.auth_msg = None
        self.salted = None

    def first(self):
        return base64.b64encode(("n,," + self.first_bare).encode()).decode()

    def final(self, server_first_b64):
        server_first = base64.b64decode(server_first_b64).decode()
        attrs = dict(kv.split("=", 1) for kv in server_first.split(","))
        assert attrs["r"].startswith(self.cnonce)
        salt = base64.b64decode(attrs["s"])
        self.salted = hashlib.pbkdf2_hmac("sha256", self.password.encode(), salt,
                                          int(attrs["i"]))
        client_key = hmac.new(self.salted, b"Client Key", hashlib.sha256).digest()
        stored_key = hashlib.sha256(client_key).digest()
        without_proof = "c=biws,r=" + attrs["r"]
        self.auth_msg = ",".join([self.first_bare, server_first, without_proof]).encode()
        sig = hmac.new(stored_key, self.auth_msg, hashlib.sha256).digest()
        proof = bytes(a ^ b for a, b in zip(client_key, sig))
        return base64.b64encode((without_proof + ",p=" +
                                 base64.b64encode(proof).decode()).encode()).decode()

    def verify(self, server_final_b64):
        server_final = base64.b64decode(server_final_b64).decode()
        server_key = hmac.new(self.salted, b"Server Key", hashlib.sha256).digest()
        want = base64.b64encode(hmac.new(server_key, self.auth_msg, hashlib.sha256).digest())
        assert server_final == "v=" + want.decode()
