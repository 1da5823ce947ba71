import { describe, expect, it } from 'vitest';

import { classifyProbeError, failure } from '../../agent/discovery/probe-error.ts';

// What Node puts in err.message for a plain-HTTP peer: OpenSSL's error queue, newline included.
const OPENSSL_MESSAGE =
  '802CE6D4E57F0000:error:0A00010B:SSL routines:ssl3_get_record:wrong version number:' +
  '../deps/openssl/openssl/ssl/record/ssl3_record.c:350:\n';

describe('probe failure messages', () => {
  it('keeps the OpenSSL reason of a not-tls error on one line, without internals', () => {
    const err = Object.assign(new Error(OPENSSL_MESSAGE), { code: 'ERR_SSL_WRONG_VERSION_NUMBER' });
    const f = classifyProbeError(err, '127.0.0.1:8080');

    expect(f.code).toBe('not-tls');
    expect(f.message).toContain('(wrong version number)');
    expect(f.message).not.toMatch(/\n|deps\/openssl|0A00010B|802CE6D4|ssl3_get_record/);
  });

  it('cleans handshake errors too and collapses any other multi-line detail', () => {
    const alert =
      '40C7:error:0A000410:SSL routines:ssl3_read_bytes:sslv3 alert handshake failure:' +
      '../deps/openssl/openssl/ssl/record/rec_layer_s3.c:1605:SSL alert number 40\n';
    const f = classifyProbeError(Object.assign(new Error(alert), { code: 'ERR_SSL_X' }), 'h:443');

    expect(f.code).toBe('handshake');
    expect(f.message).toContain('(sslv3 alert handshake failure)');
    expect(f.message).not.toContain('\n');
    expect(failure('handshake', 'h:443', 'socket hang up\n  after hello').message).toBe(
      `${failure('handshake', 'h:443').message} (socket hang up after hello)`,
    );
  });
});
