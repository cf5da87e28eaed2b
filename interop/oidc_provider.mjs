#!/usr/bin/env node
// Usage: node oidc_provider.mjs PORT [KEYFILE] [jwt|opaque]
// Runs oidc-provider on http://127.0.0.1:PORT (issuer = that URL) with one
// client_credentials client (interop / interop-secret) issuing RS256 JWT access
// tokens (typ at+jwt) for the resources urn:tollgate:api (default) and urn:other:api.
// Signing key: a fresh RSA key; with KEYFILE, loaded from it when it exists,
// otherwise generated and saved there (a different KEYFILE = a rotated key).
// With "opaque": opaque (reference) access tokens instead of JWTs, with token
// introspection (RFC 7662, /token/introspection) and revocation (RFC 7009,
// /token/revocation) on, both authenticated as the same client.
// DPoP (RFC 9449) is on: a token request with a DPoP header gets a DPoP-bound token.
// Prints "READY http://127.0.0.1:PORT" once listening; exits on SIGTERM/SIGINT.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { randomBytes } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair } from 'jose';
import Provider, { errors } from 'oidc-provider';

const [port, keyFile, format = 'jwt'] = process.argv.slice(2);
if (!port || !['jwt', 'opaque'].includes(format)) {
  console.error('usage: node oidc_provider.mjs PORT [KEYFILE] [jwt|opaque]');
  process.exit(2);
}
const opaque = format === 'opaque';
const issuer = `http://127.0.0.1:${port}`;

async function signingKey() {
  if (keyFile && existsSync(keyFile)) return JSON.parse(readFileSync(keyFile, 'utf8'));
  const { privateKey } = await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  const jwk = await exportJWK(privateKey);
  Object.assign(jwk, { kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' });
  if (keyFile) writeFileSync(keyFile, JSON.stringify(jwk), { mode: 0o600 });
  return jwk;
}

const RESOURCES = ['urn:tollgate:api', 'urn:other:api'];

const provider = new Provider(issuer, {
  clients: [{
    client_id: 'interop',
    client_secret: 'interop-secret',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
    scope: 'read write',
  }],
  scopes: ['read', 'write'],
  jwks: { keys: [await signingKey()] },
  cookies: { keys: [randomBytes(32).toString('base64url')] },
  // DPoP proofs signed with ES256 (the provider's default) and PS256 are accepted.
  enabledJWA: { dPoPSigningAlgValues: ['ES256', 'PS256', 'EdDSA'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: opaque },
    revocation: { enabled: opaque },
    // RFC 9449: a DPoP proof at the token endpoint binds the access token (cnf.jkt,
    // token_type DPoP); without one, tokens stay bearer tokens.
    dPoP: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => 'urn:tollgate:api',
      useGrantedResource: () => true,
      getResourceServerInfo(ctx, resource) {
        if (!RESOURCES.includes(resource)) throw new errors.InvalidTarget();
        return {
          scope: 'read write',
          audience: resource,
          ...(opaque
            ? { accessTokenFormat: 'opaque' }
            : { accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } }),
        };
      },
    },
  },
});

const server = createServer(provider.callback());
server.listen(Number(port), '127.0.0.1', () => console.log(`READY ${issuer}`));

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
