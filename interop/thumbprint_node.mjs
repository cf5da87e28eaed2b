#!/usr/bin/env node
// Usage: node thumbprint_node.mjs JWKS_FILE
// Prints {"<kid>": "<RFC 7638 SHA-256 thumbprint, base64url>", ...} for every key.
// Keys without a kid are listed under their index ("#0", "#1", ...).
import { readFileSync } from 'node:fs';
import { calculateJwkThumbprint } from 'jose';

const file = process.argv[2];
if (!file) {
  console.error('usage: node thumbprint_node.mjs JWKS_FILE');
  process.exit(2);
}
const { keys } = JSON.parse(readFileSync(file, 'utf8'));
const out = {};
for (const [i, jwk] of keys.entries()) {
  out[jwk.kid ?? `#${i}`] = await calculateJwkThumbprint(jwk, 'sha256');
}
console.log(JSON.stringify(out));
