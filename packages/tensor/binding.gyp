# Builds the native kernels (OpenBLAS matrix products + multi-threaded tensor kernels) of @llm2clip/tensor (build/Release/llm2clip_blas.node).
# OpenBLAS is found through pkg-config; without it, -lopenblas and the Debian include dir are used.
{
  "targets": [
    {
      "target_name": "llm2clip_blas",
      "sources": [
        "native/addon.cc",
        "native/matmul.cc",
        "native/thread-pool.cc",
        "native/strided.cc",
        "native/elementwise.cc",
        "native/reduce.cc",
        "native/layout.cc",
        "native/image-resample.cc"
      ],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": [
        "-std=c++17",
        "-O3",
        "-fno-math-errno",
        "-fno-trapping-math",
        "-pthread",
        "<!@(pkg-config --cflags openblas 2>/dev/null || echo -I/usr/include/x86_64-linux-gnu/openblas-pthread)"
      ],
      "libraries": [
        "-pthread",
        "<!@(pkg-config --libs openblas 2>/dev/null || echo -lopenblas)"
      ],
      "ldflags": [
        "<!@(pkg-config --libs-only-L openblas 2>/dev/null | sed -e 's/-L/-Wl,-rpath,/g')"
      ]
    }
  ]
}
