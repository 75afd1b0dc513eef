// A third-party, OpenID-certified provider (panva/oidc-provider) for
// tessera-client's interoperability test. It signs users in without any
// page: the interaction endpoint completes the login at once as
// `interop-user` with the acr given by OP_ACR (default eidas1-mfa), and
// grants consent. OP_CLAIMS=off disables the `claims` request parameter, as
// providers that ignore it do. Prints {"issuer": ...} once listening.
import http from 'node:http';
import Provider from 'oidc-provider';

const acr = process.env.OP_ACR ?? 'eidas1-mfa';
const claimsParameter = process.env.OP_CLAIMS !== 'off';

const server = http.createServer();
await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
const issuer = `http://127.0.0.1:${server.address().port}`;

const provider = new Provider(issuer, {
  clients: [
    {
      client_id: 'tessera-desktop',
      application_type: 'native',
      token_endpoint_auth_method: 'none',
      redirect_uris: ['http://127.0.0.1/callback'],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
    },
  ],
  acrValues: ['eidas1', 'eidas1-mfa'],
  claims: { openid: ['sub'], profile: ['name'], email: ['email'] },
  scopes: ['openid', 'offline_access', 'profile', 'email'],
  features: {
    claimsParameter: { enabled: claimsParameter },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    devInteractions: { enabled: false },
  },
  pkce: { required: () => true },
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  findAccount: async (ctx, id) => ({
    accountId: id,
    claims: async () => ({ sub: id, name: 'Interop User', email: 'interop@example.org' }),
  }),
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
});
provider.proxy = false;

const callback = provider.callback();
server.on('request', async (req, res) => {
  const match = req.url.match(/^\/interaction\/[^/?]+/);
  if (!match) return callback(req, res);
  try {
    const details = await provider.interactionDetails(req, res);
    const { prompt, params, session } = details;
    if (prompt.name === 'login') {
      const login = { accountId: 'interop-user', amr: ['pwd', 'otp'] };
      if (acr !== 'none') login.acr = acr;
      return await provider.interactionFinished(req, res, { login }, { mergeWithLastSubmission: false });
    }
    const grant = details.grantId
      ? await provider.Grant.find(details.grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const missing = prompt.details;
    if (missing.missingOIDCScope) grant.addOIDCScope(missing.missingOIDCScope.join(' '));
    if (missing.missingOIDCClaims) grant.addOIDCClaims(missing.missingOIDCClaims);
    if (missing.missingResourceScopes) {
      for (const [indicator, scopes] of Object.entries(missing.missingResourceScopes)) {
        grant.addResourceScope(indicator, scopes.join(' '));
      }
    }
    const grantId = await grant.save();
    return await provider.interactionFinished(req, res, { consent: { grantId } }, { mergeWithLastSubmission: true });
  } catch (err) {
    res.statusCode = 500;
    res.end(String(err));
  }
});

console.log(JSON.stringify({ issuer }));
