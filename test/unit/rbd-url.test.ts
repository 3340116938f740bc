import { describe, expect, it } from 'vitest';

import { ImageUnacceptableError } from '../../src/errors.js';
import { parseRbdUrl } from '../../src/rbd/url.js';

describe('parseRbdUrl (nova parse_url)', () => {
  it('splits the four parts', () => {
    expect(parseRbdUrl('rbd://fsid/pool/image/snap')).toEqual({
      fsid: 'fsid',
      pool: 'pool',
      image: 'image',
      snapshot: 'snap',
    });
  });

  it('percent-decodes every part', () => {
    expect(parseRbdUrl('rbd://%2F/%2F/%2F/%2F')).toEqual({ fsid: '/', pool: '/', image: '/', snapshot: '/' });
    expect(parseRbdUrl('rbd://f%20s/p%40l/im%2Fage/sn%3Ap')).toEqual({
      fsid: 'f s',
      pool: 'p@l',
      image: 'im/age',
      snapshot: 'sn:p',
    });
  });

  const bad = [
    'rbd://image',
    'http://host/x',
    'rbd://image/extra',
    'rbd://image/',
    'rbd://fsid/pool/image/',
    'rbd://fsid/pool/image/snap/',
    'rbd://///',
    'rbd://fsid/pool/image/snap/extra',
    'rbd://a/b/%ZZ/d',
    '',
  ];
  it.each(bad)('rejects %j with a typed error', (url) => {
    let caught: unknown;
    try {
      parseRbdUrl(url);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(ImageUnacceptableError);
    expect((caught as ImageUnacceptableError).code).toBe('IMAGE_UNACCEPTABLE');
  });
});
