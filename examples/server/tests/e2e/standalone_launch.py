#!/usr/bin/env python3
"""SMART standalone launch with PKCE by the PyPI `fhirclient` library (smart-on-fhir/client-py),
against the development authorization server; then reads the patient with the token.

The user's part (sign-in and consent pages) is played with `requests`, as a browser would:
GET the authorization URL, post the login form, post the consent form, and hand the redirect
back to fhirclient. Settings come from the environment; prints one JSON line and exits 0 on success.
"""
import json
import os
import re
import sys
import urllib.parse

import requests
from fhirclient import client
from fhirclient.models.patient import Patient

FHIR = os.environ["FHIR_BASE"]
CLIENT_ID = os.environ.get("CLIENT_ID")
REDIRECT = os.environ["REDIRECT_URI"]
USER = os.environ.get("USERNAME_", "patient")
PASSWORD = os.environ.get("PASSWORD_", "patient-demo-password")
SCOPE = "openid fhirUser launch/patient offline_access patient/Patient.rs"


def hidden(html, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), html)
    if not m:
        raise SystemExit("no hidden field %s in page" % name)
    return m.group(1)


def register():
    """RFC 7591 dynamic registration, found through the SMART configuration."""
    conf = requests.get(FHIR + "/.well-known/smart-configuration")
    assert conf.status_code == 200, conf.status_code
    endpoint = conf.json()["registration_endpoint"]
    reg = requests.post(endpoint, json={
        "client_name": "fhirclient (PyPI)",
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "scope": "openid fhirUser launch/patient offline_access patient/*.rs",
    })
    assert reg.status_code == 201, (reg.status_code, reg.text)
    return reg.json()["client_id"]


def main():
    client_id = CLIENT_ID or register()
    smart = client.FHIRClient(
        settings={"app_id": client_id, "api_base": FHIR, "redirect_uri": REDIRECT, "scope": SCOPE}
    )
    auth_url = smart.authorize_url  # reads /metadata, adds PKCE S256 and state
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(auth_url).query))
    assert query["code_challenge_method"] == "S256", query

    browser = requests.Session()
    r = browser.get(auth_url, allow_redirects=False)
    assert r.status_code == 303, (r.status_code, r.text)
    login = browser.get(r.headers["Location"])
    assert login.status_code == 200, login.status_code
    r = browser.post(
        login.url.split("?")[0],
        data={
            "txn": hidden(login.text, "txn"),
            "csrf": hidden(login.text, "csrf"),
            "username": USER,
            "password": PASSWORD,
        },
        allow_redirects=False,
    )
    assert r.status_code == 303, (r.status_code, r.text)
    consent = browser.get(r.headers["Location"])
    assert consent.status_code == 200, consent.status_code
    scopes = re.findall(r'name="scope" value="([^"]*)"', consent.text)
    types = re.findall(r'name="type" value="([^"]*)"', consent.text)
    form = [
        ("txn", hidden(consent.text, "txn")),
        ("csrf", hidden(consent.text, "csrf")),
        ("decision", "approve"),
        ("types_listed", "1"),
    ]
    form += [("scope", s) for s in scopes] + [("type", t) for t in types]
    r = browser.post(consent.url.split("?")[0], data=form, allow_redirects=False)
    assert r.status_code == 303, (r.status_code, r.text)
    callback = r.headers["Location"]
    assert callback.startswith(REDIRECT), callback

    smart.handle_callback(callback)  # exchanges the code with the PKCE verifier
    assert smart.ready, "no access token"
    assert smart.patient_id == "example", smart.patient_id
    patient = Patient.read(smart.patient_id, smart.server)
    name = smart.human_name(patient.name[0]) if patient.name else ""

    # the same read without a token is refused
    anonymous = requests.get(FHIR + "/Patient/" + smart.patient_id)
    assert anonymous.status_code == 401, anonymous.status_code

    print(json.dumps({
        "client_id": client_id,
        "patient_id": smart.patient_id,
        "patient_name": name,
        "refresh_token": bool(smart.server.auth.refresh_token),
    }))


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print("assertion failed: %r" % (e,), file=sys.stderr)
        sys.exit(1)
