#!/usr/bin/env node
// Usage: node dpop_proof.mjs KEYFILE ALG REQUESTS_JSON
// Makes DPoP proofs (RFC 9449) with panva's `dpop` package, one per request of
// REQUESTS_JSON (an array of {"htm", "htu", "token"?}; "token" adds `ath`), all signed with
// the key in KEYFILE (a private JWK; generated for ALG — ES256, PS256 or RS256 — and saved
// there when missing, so a token bound to it can be used in later calls).
// Prints {"jkt": RFC 7638 thumbprint of the public key, "proofs": [...]}.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { generateKeyPair, generateProof } from 'dpop';
import { calculateJwkThumbprint, exportJWK, importJWK } from 'jose';

const [keyFile, alg, requests] = process.argv.slice(2);
if (!keyFile || !alg || !requests) {
  console.error('usage: node dpop_proof.mjs KEYFILE ALG REQUESTS_JSON');
  process.exit(2);
}

const PRIVATE = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth'];

async function keyPair() {
  if (!existsSync(keyFile)) {
    const pair = await generateKeyPair(alg, { extractable: true });
    writeFileSync(keyFile, JSON.stringify(await exportJWK(pair.privateKey)), { mode: 0o600 });
  }
  const jwk = JSON.parse(readFileSync(keyFile, 'utf8'));
  const pub = Object.fromEntries(Object.entries(jwk).filter(([k]) => !PRIVATE.includes(k)));
  return {
    privateKey: await importJWK(jwk, alg),
    publicKey: await importJWK(pub, alg, { extractable: true }),
    jkt: await calculateJwkThumbprint(pub),
  };
}

const pair = await keyPair();
const proofs = [];
for (const r of JSON.parse(requests)) {
  proofs.push(await generateProof(pair, r.htu, r.htm, undefined, r.token ?? undefined));
}
console.log(JSON.stringify({ jkt: pair.jkt, proofs }));
