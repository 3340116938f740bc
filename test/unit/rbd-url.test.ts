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
    expect(parseRbdUrl('rbd://f%20s/p%2Bl/im%3Dage/sn%3Ap')).toEqual({
      fsid: 'f s',
      pool: 'p+l',
      image: 'im=age',
      snapshot: 'sn:p',
    });
  });

  // Decoded names must be acceptable RBD names (issue 13): %00 truncated the
  // name in librbd (victimimg%00x cloned victimimg); / and @ are the CLI's separators.
  it.each([
    'rbd://fsid/images/victimimg%00x/snap',
    'rbd://fsid/images/img/sn%00ap',
    'rbd://fsid/po%00ol/img/snap',
    'rbd://fsid/%2F/img/snap',
    'rbd://fsid/images/im%2Fage/snap',
    'rbd://fsid/images/p%40l/snap',
    'rbd://fsid/images/-x/snap',
    'rbd://fsid/images/a%0Ab/snap',
    'rbd://fsid/images/..%2Fx/snap',
  ])('refuses the unacceptable name in %s', (url) => {
    expect(() => parseRbdUrl(url)).toThrow(ImageUnacceptableError);
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
