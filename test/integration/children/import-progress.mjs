// Imports a file through the compiled library (RbdDriver.importImage) and
// prints "progress <bytes>" as it goes; the test SIGKILLs it half-way.
// argv: file, image name. Environment: IMAGEBACKEND_DIST, CEPH_CONF,
// CEPH_CLIENT_USER, CEPH_CLIENT_KEYRING, CEPH_POOL.
const { RbdDriver } = await import(`${process.env.IMAGEBACKEND_DIST}/nova.js`);
const [file, name] = process.argv.slice(2);
const driver = new RbdDriver({
  pool: process.env.CEPH_POOL,
  cephConf: process.env.CEPH_CONF,
  user: process.env.CEPH_CLIENT_USER,
  keyring: process.env.CEPH_CLIENT_KEYRING,
});
await driver.importImage(file, name, {
  chunkSize: 1 << 20,
  concurrency: 2,
  onProgress: (done) => console.log(`progress ${done}`),
});
console.log('imported');
await driver.close();
