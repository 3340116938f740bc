#include "dynlib/library.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>

namespace ib::dynlib {

namespace {

struct Outcome {
  bool loaded = false;
  std::string error;
};

// Keyed by the spec: each optional library set is loaded at most once per
// process, whichever thread asks first; later callers get the same outcome.
std::mutex& LoadMutex() {
  static std::mutex* m = new std::mutex();
  return *m;
}
std::map<const LibrarySpec*, Outcome>& Outcomes() {
  static auto* m = new std::map<const LibrarySpec*, Outcome>();
  return *m;
}

Outcome Load(const LibrarySpec& spec) {
  Outcome outcome;
  // RTLD_LOCAL: the symbols are reached through dlsym only, so nothing of
  // librbd leaks into the global scope of other addons. The handles stay open
  // for the life of the process (the slots point into them).
  void* last = nullptr;
  std::string opened;
  for (const char* const* soname = spec.sonames; *soname != nullptr; ++soname) {
    void* handle = dlopen(*soname, RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* why = dlerror();
      outcome.error = std::string("cannot load ") + *soname + " (" + (why ? why : "unknown error") + "); install " +
                      spec.install_hint;
      return outcome;
    }
    last = handle;
    opened += opened.empty() ? *soname : std::string(", ") + *soname;
  }
  for (size_t i = 0; i < spec.slot_count; ++i) {
    // The last library opened is the one whose functions are listed; dlsym
    // on its handle also searches its dependencies (librbd -> librados).
    dlerror();
    void* address = dlsym(last, spec.slots[i].name);
    if (address == nullptr) {
      outcome.error = std::string("the installed ") + opened + " lacks " + spec.slots[i].name +
                      " (too old?); install " + spec.install_hint;
      return outcome;
    }
  }
  // Fill the slots only once every function resolved: a partial set is never
  // visible to a caller.
  for (size_t i = 0; i < spec.slot_count; ++i) *spec.slots[i].slot = dlsym(last, spec.slots[i].name);
  outcome.loaded = true;
  return outcome;
}

}  // namespace

bool EnsureLoaded(const LibrarySpec& spec, std::string* error) {
  std::lock_guard<std::mutex> lock(LoadMutex());
  auto& outcomes = Outcomes();
  auto found = outcomes.find(&spec);
  if (found == outcomes.end()) found = outcomes.emplace(&spec, Load(spec)).first;
  if (!found->second.loaded && error != nullptr) *error = found->second.error;
  return found->second.loaded;
}

void NotLoaded() {
  std::fputs("imagebackend: an optional library function was called before the library was loaded\n", stderr);
  std::abort();
}

}  // namespace ib::dynlib
