# Warnings on for our own code (not for third-party headers, which come in as SYSTEM).
set(QUARREL_WARNINGS -Wall -Wextra -Wpedantic -Wshadow=local -Wno-missing-field-initializers)
function(quarrel_warnings target)
  target_compile_options(${target} PRIVATE $<$<COMPILE_LANGUAGE:CXX>:${QUARREL_WARNINGS}>)
endfunction()
