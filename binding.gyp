{
  # One addon, two backends: the simulated device runs the driver sources (driver/*.c) on
  # ksim (native/ksim) in-process; the Windows device talks to the real driver. The source
  # lists come from scripts/gyp-sources.js so that adding a file never means editing this one.
  "target_defaults": {
    "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-Wno-multichar"],
    "cflags_c": ["-std=gnu11", "-Werror=implicit-function-declaration", "-Werror=incompatible-pointer-types", "-Werror=int-conversion"],
    "cflags_cc": ["-std=c++17"]
  },
  "targets": [
    {
      # The driver and the simulated kernel under it: C, compiled against ksim's WDK-named
      # headers only. Kept in its own target so that those headers (ntddk.h, sal.h, wsk.h)
      # are never on the addon's include path.
      "target_name": "ksim_driver",
      "type": "static_library",
      "sources": [
        "<!@(node scripts/gyp-sources.js ksim)",
        "<!@(node scripts/gyp-sources.js driver)"
      ],
      "include_dirs": ["native/ksim/include", "native/ksim", "driver"],
      "cflags": ["-fPIC"]
    },
    {
      "target_name": "wskbridge",
      "dependencies": ["ksim_driver"],
      "sources": ["<!@(node scripts/gyp-sources.js addon)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "native",
        "driver"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "conditions": [
        ["OS!='win'", { "libraries": ["-lpthread"] }],
        ["OS=='win'", {
          "msvs_settings": { "VCCLCompilerTool": { "ExceptionHandling": 1 } },
          "libraries": ["ws2_32.lib"]
        }]
      ]
    }
  ]
}
