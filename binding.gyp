{
  # The source list lives in native/sources.json so the cmake-js sanitizer/fuzz
  # build reads the same list and the two builds cannot drift.
  "targets": [
    {
      "target_name": "imagebackend",
      "sources": ["<!@(node -p \"require('./native/sources.json').join(' ')\")"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "NAPI_CPP_EXCEPTIONS"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-Wall", "-Wextra", "-Wno-unused-parameter", "-Werror=return-type"],
      # librbd, librados and liblvm2cmd are opened at run time (native/dynlib):
      # a host without Ceph or lvm2 still loads the addon.
      "libraries": ["-ldl"]
    }
  ]
}
