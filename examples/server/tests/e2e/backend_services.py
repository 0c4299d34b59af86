#!/usr/bin/env python3
"""SMART Backend Services client: signs its client assertion (RS384) with PyJWT, an independent
JWT library, exchanges it for a system token, reads a Patient, and checks that replaying the same
assertion is refused.

  backend_services.py keygen DIR   writes DIR/private.pem and DIR/jwks.json (public keys only)
  backend_services.py run DIR      runs the client (FHIR_BASE, TOKEN_URL, CLIENT_ID from env)
"""
import json
import os
import sys
import time
import uuid

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

KID = "pyjwt-rs384-key"


def keygen(directory):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with open(os.path.join(directory, "private.pem"), "wb") as f:
        f.write(pem)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    public.update({"kid": KID, "alg": "RS384", "use": "sig"})
    with open(os.path.join(directory, "jwks.json"), "w") as f:
        json.dump({"keys": [public]}, f)


def run(directory):
    fhir = os.environ["FHIR_BASE"]
    token_url = os.environ["TOKEN_URL"]
    client_id = os.environ["CLIENT_ID"]
    with open(os.path.join(directory, "private.pem"), "rb") as f:
        private = f.read()
    now = int(time.time())
    assertion = jwt.encode(
        {"iss": client_id, "sub": client_id, "aud": token_url, "exp": now + 240,
         "iat": now, "jti": str(uuid.uuid4())},
        private,
        algorithm="RS384",
        headers={"kid": KID, "typ": "JWT"},
    )
    form = {
        "grant_type": "client_credentials",
        "scope": "system/Patient.rs",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    r = requests.post(token_url, data=form)
    assert r.status_code == 200, (r.status_code, r.text)
    assert r.headers.get("Cache-Control") == "no-store"
    body = r.json()
    assert body["scope"] == "system/Patient.rs", body
    assert body["expires_in"] <= 300, body
    assert "refresh_token" not in body, body
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    assert header["typ"] == "at+jwt", header

    p = requests.get(fhir + "/Patient/example",
                     headers={"Authorization": "Bearer " + token, "Accept": "application/fhir+json"})
    assert p.status_code == 200, (p.status_code, p.text)
    assert p.json()["id"] == "example"

    replay = requests.post(token_url, data=form)
    assert replay.status_code in (400, 401), replay.status_code
    assert replay.json()["error"] == "invalid_client", replay.text
    print(json.dumps({"token_type": body["token_type"], "patient": p.json()["id"],
                      "replay_status": replay.status_code}))


if __name__ == "__main__":
    try:
        {"keygen": keygen, "run": run}[sys.argv[1]](sys.argv[2])
    except AssertionError as e:
        print("assertion failed: %r" % (e,), file=sys.stderr)
        sys.exit(1)
