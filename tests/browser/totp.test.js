// The tests' own TOTP code generator against the RFC 6238 and RFC 4648 test vectors, so a
// failing OTP step in the browser tests points at the server, not at this helper.

import assert from 'node:assert/strict';
import { test } from 'node:test';

import { base32Decode, totpCode, totpStep } from './lib/harness.js';

test('base32 decoding (RFC 4648 §10)', () => {
  assert.equal(base32Decode('MZXW6YTBOI======').toString(), 'foobar');
  assert.equal(base32Decode('mzxw 6ytb oi').toString(), 'foobar');
});

test('TOTP codes (RFC 6238 appendix B, SHA-1, last 6 digits)', () => {
  // The seed "12345678901234567890" in base32.
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  const vectors = [
    [59, '287082'],
    [1111111109, '081804'],
    [1111111111, '050471'],
    [1234567890, '005924'],
    [2000000000, '279037'],
    [20000000000, '353130'],
  ];
  for (const [seconds, code] of vectors) {
    assert.equal(totpCode(secret, totpStep(seconds * 1000)), code, `T = ${seconds}`);
  }
});
