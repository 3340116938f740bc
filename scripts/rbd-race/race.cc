// The snapshot-open/clone race, reduced to librados/librbd calls only (no
// Node, no addon): on librbd 16.2 (Debian 12), opening an image at a snapshot
// while rbd_clone3 of that snapshot runs on the same rados client sometimes
// aborts the process (a librados io_context thread locks a mutex in freed
// memory). See README, "Known issues", and scripts/rbd-race/run.sh.
//
//   race CONF USER KEYRING POOL [ROUNDS] [CLONES] [THREADS]
//
// One rados client; a parent image with a protected snapshot; then ROUNDS
// rounds in which THREADS threads share CLONES clone slots: each thread, per
// slot it takes, opens the parent at the snapshot (rbd_open_read_only,
// rbd_get_size, rbd_close), then clones the snapshot (rbd_clone3), so the
// snapshot opens of some threads interleave with the clones of others on the
// one client. Clones are removed between rounds,
// everything at the end. Exit 0: no crash; 1: a call failed (printed);
// a signal (abort, segfault) or a hang (the caller's timeout): the race.
#include <rados/librados.h>
#include <rbd/librbd.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

void Check(int r, const char* what, const std::string& object) {
  if (r >= 0) return;
  std::fprintf(stderr, "race: %s %s: %s\n", what, object.c_str(), std::strerror(-r));
  std::exit(1);
}

std::string CloneName(const std::string& prefix, int round, int slot) {
  return prefix + "-c" + std::to_string(round) + "-" + std::to_string(slot);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: race CONF USER KEYRING POOL [ROUNDS] [CLONES] [THREADS]\n");
    return 2;
  }
  const char* conf = argv[1];
  const std::string user = argv[2];
  const char* keyring = argv[3];
  const char* pool = argv[4];
  const int rounds = argc > 5 ? std::atoi(argv[5]) : 5;
  const int clones = argc > 6 ? std::atoi(argv[6]) : 100;
  const int threads = argc > 7 ? std::atoi(argv[7]) : 16;

  rados_t cluster;
  Check(rados_create2(&cluster, "ceph", ("client." + user).c_str(), 0), "rados_create2", user);
  Check(rados_conf_read_file(cluster, conf), "rados_conf_read_file", conf);
  Check(rados_conf_set(cluster, "keyring", keyring), "rados_conf_set keyring", keyring);
  Check(rados_connect(cluster), "rados_connect", conf);
  rados_ioctx_t ioctx;
  Check(rados_ioctx_create(cluster, pool, &ioctx), "rados_ioctx_create", pool);

  // A name of our own per process, so a leftover of a killed run never collides.
  const std::string prefix = "race-" + std::to_string(getpid());
  const std::string parent = prefix + "-parent";
  const char* snap = "snap";
  int order = 22;  // 4 MiB objects, the default
  Check(rbd_create2(ioctx, parent.c_str(), 64 << 20, RBD_FEATURE_LAYERING, &order), "rbd_create2", parent);
  {
    rbd_image_t image;
    Check(rbd_open(ioctx, parent.c_str(), &image, nullptr), "rbd_open", parent);
    Check(rbd_snap_create(image, snap), "rbd_snap_create", parent);
    Check(rbd_snap_protect(image, snap), "rbd_snap_protect", parent);
    Check(rbd_close(image), "rbd_close", parent);
  }

  for (int round = 0; round < rounds; round++) {
    std::atomic<int> next{0};
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; t++) {
      workers.emplace_back([&, round] {
        for (int slot; (slot = next.fetch_add(1)) < clones;) {
          const std::string child = CloneName(prefix, round, slot);
          // What the library did before the workaround, per clone: "is the
          // snapshot there?" by opening the image at it, then the clone.
          rbd_image_t at_snap;
          uint64_t size = 0;
          Check(rbd_open_read_only(ioctx, parent.c_str(), &at_snap, snap), "rbd_open_read_only@snap", parent);
          Check(rbd_get_size(at_snap, &size), "rbd_get_size", parent);
          Check(rbd_close(at_snap), "rbd_close", parent);
          rbd_image_options_t opts;
          rbd_image_options_create(&opts);
          Check(rbd_clone3(ioctx, parent.c_str(), snap, ioctx, child.c_str(), opts), "rbd_clone3", child);
          rbd_image_options_destroy(opts);
        }
      });
    }
    for (auto& w : workers) w.join();
    // Removed from as many threads (not part of the race: no snapshot opens run now).
    std::atomic<int> gone{0};
    workers.clear();
    for (int t = 0; t < threads; t++) {
      workers.emplace_back([&, round] {
        for (int slot; (slot = gone.fetch_add(1)) < clones;) {
          const std::string child = CloneName(prefix, round, slot);
          Check(rbd_remove(ioctx, child.c_str()), "rbd_remove", child);
        }
      });
    }
    for (auto& w : workers) w.join();
    std::fprintf(stderr, "race: round %d/%d: %d clones, no crash\n", round + 1, rounds, clones);
  }

  {
    rbd_image_t image;
    Check(rbd_open(ioctx, parent.c_str(), &image, nullptr), "rbd_open", parent);
    Check(rbd_snap_unprotect(image, snap), "rbd_snap_unprotect", parent);
    Check(rbd_snap_remove(image, snap), "rbd_snap_remove", parent);
    Check(rbd_close(image), "rbd_close", parent);
  }
  Check(rbd_remove(ioctx, parent.c_str()), "rbd_remove", parent);
  rados_ioctx_destroy(ioctx);
  rados_shutdown(cluster);
  return 0;
}
