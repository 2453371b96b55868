# Warnings on for our own code (not for third-party headers, which come in as SYSTEM).
set(QUARREL_WARNINGS -Wall -Wextra -Wpedantic -Wno-missing-field-initializers)
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
  list(APPEND QUARREL_WARNINGS -Wshadow=local)
endif()
function(quarrel_warnings target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${QUARREL_WARNINGS}>)
endfunction()
