# Warning set, sanitizer flags and the helper every src/ library uses.
add_compile_options(-Wall -Wextra -Wno-unused-parameter)
if(HEARTH_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()

# hearth_library(NAME SOURCES... DEPS lib...) — a static library rooted at src/.
function(hearth_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
endfunction()

# hearth_test(NAME SOURCES... DEPS lib... LABELS l...) — a GoogleTest binary registered with ctest.
function(hearth_test name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    HEARTH_SHARED_DIR="${PROJECT_SOURCE_DIR}/../shared"
    HEARTH_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    HEARTH_BINARY_DIR="${PROJECT_BINARY_DIR}")
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES LABELS "${ARG_LABELS}")
endfunction()
