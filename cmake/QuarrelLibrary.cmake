# quarrel_library(NAME DIR DEPS ...): one CMake library per src/ folder, made of every *.cpp in
# that folder (files are picked up as they are added). Files named *_avx2.cpp / *_avx512.cpp
# get the instruction-set flags they need; everything else is built for the baseline x86-64
# so run-time dispatch (CPUID) decides what runs.
function(quarrel_library name dir)
  cmake_parse_arguments(ARG "" "" "DEPS;PUBLIC_LIBS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${dir}/*.cpp)
  if(srcs)
    add_library(quarrel_${name} STATIC ${srcs})
    target_include_directories(quarrel_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
    set(vis PUBLIC)
    quarrel_warnings(quarrel_${name})
  else()
    add_library(quarrel_${name} INTERFACE)
    target_include_directories(quarrel_${name} INTERFACE ${PROJECT_SOURCE_DIR}/src)
    set(vis INTERFACE)
  endif()
  foreach(dep ${ARG_DEPS})
    target_link_libraries(quarrel_${name} ${vis} quarrel_${dep})
  endforeach()
  if(ARG_PUBLIC_LIBS)
    target_link_libraries(quarrel_${name} ${vis} ${ARG_PUBLIC_LIBS})
  endif()
  foreach(src ${srcs})
    if(src MATCHES "_avx2\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS "-mavx2;-mfma;-mf16c")
    elseif(src MATCHES "_avx512\\.cpp$")
      set_source_files_properties(${src} PROPERTIES COMPILE_OPTIONS
        "-mavx512f;-mavx512bw;-mavx512vl;-mavx512dq;-mavx512vnni;-mavx2;-mfma;-mf16c")
    endif()
  endforeach()
endfunction()

# quarrel_test(NAME LABELS ... LIBS ... SOURCES ...): a GoogleTest executable registered with
# CTest, one CTest test per gtest case, carrying the given labels (unit, golden, e2e, gpu, web).
function(quarrel_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "LABELS;LIBS;SOURCES;PROPERTIES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} quarrel_testsupport GTest::gtest GTest::gtest_main)
  quarrel_warnings(${name})
  # `unit_tests` builds every unit-test executable (the sanitizer configuration builds only it).
  if("unit" IN_LIST ARG_LABELS)
    if(NOT TARGET unit_tests)
      add_custom_target(unit_tests)
    endif()
    add_dependencies(unit_tests ${name})
  endif()
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 600)
  endif()
  # The test data dir, the binary and the source dir reach the tests compiled into
  # quarrel_testsupport (tests/CMakeLists.txt): gtest_discover_tests keeps only the first
  # entry of a list-valued ENVIRONMENT property. The environment variables still override.
  gtest_discover_tests(${name}
    DISCOVERY_TIMEOUT 60
    PROPERTIES LABELS "${ARG_LABELS}" TIMEOUT ${ARG_TIMEOUT} ${ARG_PROPERTIES})
endfunction()
