// node oidc-provider 9 as bench/compare.sh measures it: the same grants and endpoints as
// mpsv-idp's bench clients, configured as its documentation recommends for production except
// for the storage (its built-in in-memory adapter, which favours it: no database at all).
//
//   node op.mjs PORT SECRET
//
// Clients (client_secret_basic, all with SECRET):
//   bench-cc-rs256 / bench-cc-es256  client_credentials, JWT access token (RFC 9068) signed
//                                    RS256 / ES256 (resource indicators, accessTokenFormat jwt)
//   bench-cc-opaque                  client_credentials, opaque access token (the only kind
//                                    its introspection endpoint answers for)
// Endpoints: /.well-known/openid-configuration, /jwks, /token, /token/introspection,
// /token/revocation.
import { generateKeyPairSync } from 'node:crypto';

import Provider from 'oidc-provider';

const [port, secret] = process.argv.slice(2);
if (!port || !secret) {
  console.error('usage: node op.mjs PORT SECRET');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const jwk = (alg, pair) => ({ ...pair.privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: alg });
const keys = [
  jwk('RS256', generateKeyPairSync('rsa', { modulusLength: 2048 })),
  jwk('ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' })),
];

const RESOURCE = { 'bench-cc-rs256': 'urn:bench:rs256', 'bench-cc-es256': 'urn:bench:es256' };
const client = (id) => ({
  client_id: id,
  client_secret: secret,
  grant_types: ['client_credentials'],
  response_types: [],
  redirect_uris: [],
  token_endpoint_auth_method: 'client_secret_basic',
  scope: 'api',
});

const provider = new Provider(issuer, {
  clients: ['bench-cc-rs256', 'bench-cc-es256', 'bench-cc-opaque'].map(client),
  jwks: { keys },
  scopes: ['api'],
  cookies: { keys: ['bench-cookie-key-0123456789'] },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (ctx, c) => RESOURCE[c.clientId],
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resource) => ({
        scope: 'api',
        accessTokenFormat: 'jwt',
        jwt: { sign: { alg: resource === 'urn:bench:es256' ? 'ES256' : 'RS256' } },
      }),
    },
  },
  ttl: { ClientCredentials: 600 },
});
provider.proxy = false;
provider.listen(Number(port), '127.0.0.1', () => console.log(`oidc-provider listening on ${issuer}`));
