// End-to-end test in a real headless browser (Debian's chromium, driven by playwright-core):
// a small app built on `openid-client` starts a SMART standalone launch, the user signs in,
// unticks one scope on the consent page, and the app receives a token without that scope.
//
// Environment: ISSUER, FHIR_BASE, CLIENT_ID, APP_PORT, SCREENSHOT (path of the consent-page PNG),
// CHROMIUM (default /usr/bin/chromium). Prints one JSON line; exits non-zero on failure.
import http from 'node:http';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { chromium } from 'playwright-core';

const ISSUER = process.env.ISSUER;
const FHIR = process.env.FHIR_BASE;
let CLIENT_ID = process.env.CLIENT_ID;
const APP_PORT = Number(process.env.APP_PORT);
const SCREENSHOT = process.env.SCREENSHOT;
const APP = `http://127.0.0.1:${APP_PORT}`;
const REDIRECT = `${APP}/callback`;
const SCOPE = 'openid fhirUser launch/patient patient/Patient.rs patient/Observation.rs patient/Condition.rs';
const UNTICK = 'patient/Observation.rs';

if (!CLIENT_ID) {
  // RFC 7591 dynamic registration, found through OpenID Connect discovery
  const meta = await (await fetch(`${ISSUER}/.well-known/openid-configuration`)).json();
  const reg = await fetch(meta.registration_endpoint, {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      client_name: 'Browser test app (openid-client)', redirect_uris: [REDIRECT],
      token_endpoint_auth_method: 'none', allowed_origins: [APP],
      scope: 'openid fhirUser launch/patient patient/*.rs',
    }),
  });
  const registered = await reg.text();
  assert.equal(reg.status, 201, registered);
  CLIENT_ID = JSON.parse(registered).client_id;
}

const config = await oidc.discovery(
  new URL(ISSUER), CLIENT_ID, { id_token_signed_response_alg: 'ES256' }, oidc.None(),
  { execute: [oidc.allowInsecureRequests] },
);
// verify ID token signatures against the server's jwks_uri too (off by default in openid-client)
oidc.enableNonRepudiationChecks(config);

// the app: /launch starts the flow, /callback exchanges the code
const session = {};
let result;
const app = http.createServer(async (req, res) => {
  try {
    const url = new URL(req.url, APP);
    if (url.pathname === '/launch') {
      session.verifier = oidc.randomPKCECodeVerifier();
      session.state = oidc.randomState();
      const authorize = oidc.buildAuthorizationUrl(config, {
        redirect_uri: REDIRECT, scope: SCOPE, aud: FHIR, state: session.state,
        code_challenge: await oidc.calculatePKCECodeChallenge(session.verifier),
        code_challenge_method: 'S256',
      });
      res.writeHead(302, { Location: authorize.href }).end();
    } else if (url.pathname === '/callback') {
      const tokens = await oidc.authorizationCodeGrant(config, url, {
        pkceCodeVerifier: session.verifier, expectedState: session.state,
      });
      const claims = tokens.claims();
      result = { scope: tokens.scope, patient: tokens.patient, fhirUser: claims?.fhirUser };
      // the app reads the patient with its token
      const patient = await fetch(`${FHIR}/Patient/${tokens.patient}`, {
        headers: { Authorization: `Bearer ${tokens.access_token}`, Accept: 'application/fhir+json' },
      });
      result.patientStatus = patient.status;
      res.writeHead(200, { 'Content-Type': 'text/html' })
        .end(`<html><body><h1>App</h1><pre id="granted">${tokens.scope}</pre></body></html>`);
    } else {
      res.writeHead(404).end();
    }
  } catch (e) {
    result = { error: String(e) };
    res.writeHead(500, { 'Content-Type': 'text/plain' }).end(String(e));
  }
});
await new Promise((resolve) => app.listen(APP_PORT, '127.0.0.1', resolve));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
try {
  const page = await (await browser.newContext({ viewport: { width: 900, height: 800 } })).newPage();
  await page.goto(`${APP}/launch`);
  await page.fill('input[name=username]', 'patient');
  await page.fill('input[name=password]', 'patient-demo-password');
  await Promise.all([page.waitForURL(/\/consent\?/), page.click('#sign-in')]);
  const box = page.locator(`input[name=scope][value="${UNTICK}"]`);
  assert.equal(await box.isChecked(), true);
  await box.uncheck();
  assert.equal(await box.isChecked(), false);
  if (SCREENSHOT) await page.screenshot({ path: SCREENSHOT, fullPage: true });
  await Promise.all([page.waitForURL(/\/callback\?/), page.click('#approve')]);
  const shown = await page.textContent('#granted');
  assert.ok(result && !result.error, JSON.stringify(result));
  assert.ok(!result.scope.split(' ').includes(UNTICK), `token still has ${UNTICK}: ${result.scope}`);
  assert.ok(result.scope.split(' ').includes('patient/Patient.rs'), result.scope);
  assert.equal(shown, result.scope);
  assert.equal(result.patient, 'example');
  assert.equal(result.fhirUser, `${FHIR}/Patient/example`);
  assert.equal(result.patientStatus, 200);
  console.log(JSON.stringify(result));
} finally {
  await browser.close();
  app.close();
}
