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
      "cflags": ["-fPIC"],
      "conditions": [
        ["OS=='win'", {
          # The Windows SDK's own headers include <ws2def.h> and <sal.h>; with ksim's headers
          # of those names on the path they would get ksim's. So the host layer (the only ksim
          # code that includes SDK headers) is the separate target ksim_host below.
          "sources/": [["exclude", "native/ksim/host/[^/]*\\.c$"]],
          "dependencies": ["ksim_host"],
          # ksim and the driver sources are GNU C11 (__atomic builtins, __attribute__), which
          # MSVC's C compiler does not take: clang-cl (Visual Studio component "C++ Clang
          # tools for Windows"). Untested so far: see docs/windows.md.
          "msbuild_toolset": "ClangCL",
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/clang:-std=gnu11", "-Wno-unused-parameter", "-Wno-multichar"] } }
        }]
      ]
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
  ],
  "conditions": [
    ["OS=='win'", {
      "targets": [
        {
          # The Windows host layer (host_*_win.c: Win32 threads and Winsock), with only its own
          # directory on the include path; see ksim_driver.
          "target_name": "ksim_host",
          "type": "static_library",
          "sources": ["<!@(node scripts/gyp-sources.js ksim)"],
          "sources/": [["exclude", ".*"], ["include", "native/ksim/host/[^/]*\\.c$"]],
          "include_dirs": ["native/ksim/host"],
          # clang-cl like ksim_driver: host_sync.h uses __attribute__((noreturn)).
          "msbuild_toolset": "ClangCL",
          "msvs_settings": { "VCCLCompilerTool": { "AdditionalOptions": ["/clang:-std=gnu11"] } },
          "link_settings": { "libraries": ["ws2_32.lib"] }
        }
      ]
    }]
  ]
}
