#!/usr/bin/env node
// Usage: node sign_node.mjs OUTFILE
// Signs one JWT per supported algorithm with fresh keys using `jose` and
// writes {"library","version","cases":[{alg,kid,token,jwks|secret_b64url}]}.
import { readFileSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { SignJWT, generateKeyPair, exportJWK, base64url } from 'jose';

const out = process.argv[2];
if (!out) {
  console.error('usage: node sign_node.mjs OUTFILE');
  process.exit(2);
}

const version = JSON.parse(
  readFileSync(new URL('./node_modules/jose/package.json', import.meta.url), 'utf8'),
).version;

const ASYMMETRIC = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512', 'EdDSA'];
const HMAC = { HS256: 32, HS384: 48, HS512: 64 };

const now = Math.floor(Date.now() / 1000);
const claims = { iss: 'https://peer.example', aud: 'tollgate-interop', sub: 'alice', iat: now, exp: now + 600 };

function sign(alg, kid, key) {
  return new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key);
}

const cases = [];
const failures = [];
for (const alg of ASYMMETRIC) {
  const kid = `jose-${alg}-${base64url.encode(randomBytes(6))}`;
  try {
    const opts = { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) };
    const { publicKey, privateKey } = await generateKeyPair(alg, opts);
    const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
    cases.push({ alg, kid, token: await sign(alg, kid, privateKey), jwks: { keys: [jwk] } });
  } catch (e) {
    failures.push(`${alg}: ${e.message}`);
  }
}
for (const [alg, len] of Object.entries(HMAC)) {
  const kid = `jose-${alg}-${base64url.encode(randomBytes(6))}`;
  const secret = randomBytes(len);
  cases.push({ alg, kid, token: await sign(alg, kid, secret), secret_b64url: base64url.encode(secret) });
}

writeFileSync(out, JSON.stringify({ library: 'jose', version, cases }, null, 2) + '\n');
for (const f of failures) console.error(`unsupported: ${f}`);
console.error(`jose ${version}: wrote ${cases.length} cases to ${out}`);
