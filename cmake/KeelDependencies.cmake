# Finds keel's dependencies, all from Debian packages:
#   libcaf-dev (CAF 0.17.6: ships no CMake package, so imported targets are defined here),
#   libssl-dev, nlohmann-json3-dev, libcli11-dev, catch2 (v2), libjemalloc-dev.
find_path(CAF_INCLUDE_DIR caf/all.hpp REQUIRED)
find_library(CAF_CORE_LIBRARY caf_core REQUIRED)
find_library(CAF_IO_LIBRARY caf_io REQUIRED)
find_package(Threads REQUIRED)

if(NOT TARGET CAF::core)
  add_library(CAF::core SHARED IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(CAF::io SHARED IMPORTED)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
    INTERFACE_LINK_LIBRARIES CAF::core)
endif()

find_package(nlohmann_json 3.11 REQUIRED)
find_package(OpenSSL REQUIRED)  # libcrypto: SHA-256 of simulation traces
find_path(CLI11_INCLUDE_DIR CLI/CLI.hpp REQUIRED)
if(KEEL_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
endif()

# jemalloc replaces glibc malloc in keel's programs (not in sanitizer
# builds): every message is allocated on one worker thread and freed on
# another, which glibc's arenas answer with lock contention and heap
# trimming. keel bench measured T1 2.6x and T3 2.2x faster with it.
if(KEEL_JEMALLOC AND NOT KEEL_SANITIZE)
  find_library(JEMALLOC_LIBRARY jemalloc REQUIRED)
endif()
