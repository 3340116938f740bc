import { describe, expect, it } from 'vitest';

import { RbdError } from '../../src/errors.js';
import { parseMonMap, splitAddr } from '../../src/rbd/monmap.js';

describe('parseMonMap', () => {
  it('reads IPv4 v1 addresses and prefers them over v2', () => {
    const json = JSON.stringify({
      mons: [
        {
          name: 'a',
          public_addrs: {
            addrvec: [
              { type: 'v2', addr: '10.0.0.1:3300', nonce: 0 },
              { type: 'v1', addr: '10.0.0.1:6789', nonce: 0 },
            ],
          },
          addr: '10.0.0.1:6789/0',
        },
        { name: 'b', public_addrs: { addrvec: [{ type: 'v2', addr: '10.0.0.2:3300', nonce: 0 }] }, addr: '10.0.0.2:3300/0' },
      ],
    });
    expect(parseMonMap(json)).toEqual([
      { host: '10.0.0.1', port: 6789, protocol: 'v1' },
      { host: '10.0.0.2', port: 3300, protocol: 'v2' },
    ]);
  });

  it('strips the brackets of IPv6 addresses and keeps their ports', () => {
    const json = JSON.stringify({
      mons: [
        { name: 'a', public_addrs: { addrvec: [{ type: 'v1', addr: '[fe80::1:2]:6789', nonce: 0 }] } },
        { name: 'b', addr: '[::1]:6790/0' },
      ],
    });
    expect(parseMonMap(json)).toEqual([
      { host: 'fe80::1:2', port: 6789, protocol: 'v1' },
      { host: '::1', port: 6790, protocol: 'v1' },
    ]);
  });

  it('tolerates the "dumped monmap epoch" preamble of old releases', () => {
    const json = 'dumped monmap epoch 2\n' + JSON.stringify({ mons: [{ addr: '192.168.1.5:6789/0' }] });
    expect(parseMonMap(json)).toEqual([{ host: '192.168.1.5', port: 6789, protocol: 'v1' }]);
  });

  it('skips monitors without a usable address', () => {
    expect(parseMonMap(JSON.stringify({ mons: [{ addr: 'garbage' }, { addr: '-' }, {}] }))).toEqual([]);
  });

  it('answers that are not a monitor map are RBD_ERROR, never a bare SyntaxError', () => {
    for (const text of ['', 'not json at all', '{"mons": ', 'dumped monmap epoch 2\n{oops}', '{"mons": 5}']) {
      let error: unknown;
      try {
        parseMonMap(text);
      } catch (e) {
        error = e;
      }
      expect(error, text).toBeInstanceOf(RbdError);
      expect(error).toMatchObject({ code: 'RBD_ERROR', operation: 'parseMonMap' });
    }
    expect(parseMonMap('{"mons": [null, 3, {"addr": "10.0.0.1:6789/0"}]}')).toEqual([{ host: '10.0.0.1', port: 6789, protocol: 'v1' }]);
  });

  it('splitAddr rejects bad ports', () => {
    expect(splitAddr('1.2.3.4:0/0')).toBeUndefined();
    expect(splitAddr('1.2.3.4:99999')).toBeUndefined();
    expect(splitAddr('1.2.3.4:80')).toEqual({ host: '1.2.3.4', port: 80 });
  });
});
