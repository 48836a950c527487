# Builds the optional MPI binding of @llm2clip/distributed (build/Release/llm2clip_mpi.node).
# MPI is found through pkg-config (`ompi`, then `mpi`); without it, `mpicc --showme` gives the flags.
{
  "targets": [
    {
      "target_name": "llm2clip_mpi",
      "sources": ["native/mpi.cc"],
      "dependencies": [
        "<!(node -p \"require('node-addon-api').targets\"):node_addon_api_except"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_cc": [
        "-std=c++17",
        "-O2",
        "<!@(pkg-config --cflags ompi 2>/dev/null || pkg-config --cflags mpi 2>/dev/null || mpicc --showme:compile 2>/dev/null)"
      ],
      "libraries": [
        "-ldl",
        "<!@(pkg-config --libs ompi 2>/dev/null || pkg-config --libs mpi 2>/dev/null || mpicc --showme:link 2>/dev/null)"
      ],
      "ldflags": [
        "<!@((pkg-config --libs-only-L ompi 2>/dev/null || pkg-config --libs-only-L mpi 2>/dev/null) | sed -e 's/-L/-Wl,-rpath,/g')"
      ]
    }
  ]
}
