# Cross-build for Windows x64 with Debian's mingw-w64 (apt: g++-mingw-w64-x86-64-posix,
# binutils-mingw-w64-x86-64). The -posix compilers are required: the win32 thread model of
# mingw's libstdc++ has no std::thread, which the Windows device's I/O thread uses.
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(WSKB_MINGW_PREFIX x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${WSKB_MINGW_PREFIX}-gcc-posix)
set(CMAKE_CXX_COMPILER ${WSKB_MINGW_PREFIX}-g++-posix)
set(CMAKE_RC_COMPILER ${WSKB_MINGW_PREFIX}-windres)
set(WSKB_DLLTOOL_NAME ${WSKB_MINGW_PREFIX}-dlltool)

set(CMAKE_FIND_ROOT_PATH /usr/${WSKB_MINGW_PREFIX})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)

# Windows 10 APIs (CancelIoEx, GetQueuedCompletionStatusEx, WSAPoll, high-resolution timers).
add_compile_definitions(_WIN32_WINNT=0x0A00 WINVER=0x0A00)
# printf-family functions with C99 formats (%zu, %llu): msvcrt's own do not know them, and a
# mismatched format reads the wrong arguments.
add_compile_definitions(__USE_MINGW_ANSI_STDIO=1)
