{
  "targets": [
    {
      "target_name": "ltgbert",
      "sources": ["<!@(node scripts/native-sources.mjs)"],
      "include_dirs": [
        "native",
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node scripts/find-libtorch.mjs --gyp includes)"
      ],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "NODE_ADDON_API_DISABLE_DEPRECATED",
        "<!@(node scripts/find-libtorch.mjs --gyp defines)"
      ],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-fno-math-errno"],
      "libraries": [
        "<!@(node scripts/find-libtorch.mjs --gyp libdirs)",
        "<!@(node scripts/find-libtorch.mjs --gyp libs)",
        "<!@(node scripts/find-libtorch.mjs --gyp rpath)"
      ]
    }
  ]
}
