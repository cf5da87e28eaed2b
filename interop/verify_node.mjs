#!/usr/bin/env node
// Usage: node verify_node.mjs JWKS_URL TOKEN ISS AUD
// Verifies TOKEN with jose.jwtVerify against a remote JWKS (asymmetric algs only).
// Prints {"ok":true,"alg":...,"kid":...,"typ":...,"claims":{...}} and exits 0,
// or {"ok":false,"error":"..."} and exits 1.
import { createRemoteJWKSet, jwtVerify } from 'jose';

const ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512', 'EdDSA'];

const [jwksUrl, token, issuer, audience] = process.argv.slice(2);
if (!audience) {
  console.error('usage: node verify_node.mjs JWKS_URL TOKEN ISS AUD');
  process.exit(2);
}

try {
  const jwks = createRemoteJWKSet(new URL(jwksUrl));
  const { payload, protectedHeader } = await jwtVerify(token, jwks, {
    issuer, audience, algorithms: ALGORITHMS,
  });
  const { alg, kid, typ } = protectedHeader;
  console.log(JSON.stringify({ ok: true, alg, kid, typ, claims: payload }));
} catch (e) {
  console.log(JSON.stringify({ ok: false, error: `${e.code ?? e.name}: ${e.message}` }));
  process.exit(1);
}
