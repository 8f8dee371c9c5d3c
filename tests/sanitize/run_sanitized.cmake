# run_sanitized.cmake — cmake -DSOURCE=repo -DBUILD=dir -DLIBRARY=build_outputs -P run_sanitized.cmake
#
# Configures SOURCE in BUILD with UNETGEN_SANITIZE=ON, builds the C++ test programs that need no
# compiler (unetgen_dsl, unetgen_runtime and their tests, the real-library tests) and runs each;
# any sanitizer report fails the run (UBSan does not recover, ASan reports leaks at exit).
# allocator_may_return_null lets the out-of-memory paths see a NULL instead of ASan aborting.
foreach (var SOURCE BUILD LIBRARY)
  if (NOT ${var})
    message(FATAL_ERROR "run_sanitized.cmake needs -D${var}=...")
  endif ()
endforeach ()

function(step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if (NOT rc EQUAL 0)
    message(FATAL_ERROR "sanitizer job: ${what} failed (${rc})")
  endif ()
endfunction()

step("configure" ${CMAKE_COMMAND} -S ${SOURCE} -B ${BUILD} -DCMAKE_BUILD_TYPE=Debug -DUNETGEN_SANITIZE=ON)
set(programs dsl/test_dsl_spec runtime/test_runtime codegen/library_cycles codegen/thread_stress codegen/manifest_tie)
set(targets)
foreach (p ${programs})
  get_filename_component(t ${p} NAME)
  list(APPEND targets ${t})
endforeach ()
step("build" ${CMAKE_COMMAND} --build ${BUILD} -j 2 --target ${targets})

set(ENV{ASAN_OPTIONS} "allocator_may_return_null=1:detect_leaks=1:abort_on_error=0")
set(ENV{UBSAN_OPTIONS} "print_stacktrace=1:halt_on_error=1")
set(args_library_cycles ${LIBRARY} 10)
set(args_thread_stress ${LIBRARY} 8 3)
set(args_manifest_tie ${LIBRARY})
foreach (p ${programs})
  get_filename_component(t ${p} NAME)
  message(STATUS "sanitizer job: ${t} ${args_${t}}")
  step("${t} under ASan + UBSan" ${BUILD}/tests/${p} ${args_${t}})
endforeach ()
message(STATUS "sanitizer job: every program ran clean")
